// fingerprint(): the sha256 (lowercase hex) of a JSON value's canonical text
// (core/canonical_json.hpp), or of the parts of it that JSON Pointers name,
// so that every client fingerprints a request the same way.
#include "core/canonical_json.hpp"
#include "core/guard_error.hpp"
#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

using namespace idempotency;
using namespace idempotency::pg;

namespace {

struct IteratorStep {
  JsonbIteratorToken token;
  JsonbValue value;
};

// The next member of a container, nested containers left as jbvBinary.
IteratorStep next_step(JsonbIterator** iterator) {
  return call_pg([&]() noexcept {
    IteratorStep step;
    step.token = JsonbIteratorNext(iterator, &step.value, true);
    return step;
  });
}

// Text of the database encoding as UTF-8, which is what gets digested.
std::string utf8_text(const char* text, int length) {
  if (GetDatabaseEncoding() == PG_UTF8) return std::string(text, length);
  const char* converted =
      call_pg([&]() noexcept { return pg_server_to_any(text, length, PG_UTF8); });
  return converted == text ? std::string(text, length) : std::string(converted);
}

std::string numeric_text(Numeric number) {
  return call_pg([&]() noexcept {
    return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(number)));
  });
}

std::string canonical_container(JsonbContainer* container);

std::string canonical_value(const JsonbValue& value) {
  switch (value.type) {
    case jbvNull:
      return "null";
    case jbvBool:
      return value.val.boolean ? "true" : "false";
    case jbvString:
      return core::canonical_json_string(utf8_text(value.val.string.val, value.val.string.len));
    case jbvNumeric:
      return core::canonical_json_number(numeric_text(value.val.numeric));
    case jbvBinary:
      return canonical_container(value.val.binary.data);
    default:
      throw std::logic_error("idempotency: unexpected jsonb value type");
  }
}

std::string canonical_container(JsonbContainer* container) {
  // One recursion per nesting level, each frame several times the parser's:
  // a document the server accepted can still be too deep to walk here.
  call_pg([]() noexcept { check_stack_depth(); });
  JsonbIterator* iterator = call_pg([&]() noexcept { return JsonbIteratorInit(container); });
  IteratorStep step = next_step(&iterator);
  if (step.token == WJB_BEGIN_OBJECT) {
    std::vector<std::pair<std::string, std::string>> members;
    for (step = next_step(&iterator); step.token == WJB_KEY; step = next_step(&iterator)) {
      std::string key = utf8_text(step.value.val.string.val, step.value.val.string.len);
      IteratorStep member = next_step(&iterator);
      members.emplace_back(std::move(key), canonical_value(member.value));
    }
    return core::canonical_json_object(std::move(members));
  }
  // An array, or a scalar document (stored as a one-element raw-scalar array).
  bool scalar_document = step.value.val.array.rawScalar;
  std::vector<std::string> elements;
  for (step = next_step(&iterator); step.token == WJB_ELEM; step = next_step(&iterator)) {
    elements.push_back(canonical_value(step.value));
  }
  return scalar_document ? elements.front() : core::canonical_json_array(elements);
}

// The canonical text of the part of `document` that `tokens` select, or
// nullopt when the document has no such part.
std::optional<std::string> canonical_part(Jsonb* document, const std::vector<std::string>& tokens) {
  JsonbValue current;
  current.type = jbvBinary;
  current.val.binary.data = &document->root;
  current.val.binary.len = VARSIZE(document) - VARHDRSZ;
  for (const std::string& token : tokens) {
    if (current.type != jbvBinary || JsonContainerIsScalar(current.val.binary.data)) {
      return std::nullopt;
    }
    JsonbContainer* container = current.val.binary.data;
    JsonbValue* found = nullptr;
    if (JsonContainerIsObject(container)) {
      found = call_pg([&]() noexcept {
        return getKeyJsonValueFromContainer(container, token.data(), static_cast<int>(token.size()),
                                            nullptr);
      });
    } else if (std::optional<std::size_t> index = core::json_pointer_array_index(token)) {
      found = call_pg([&]() noexcept {
        return getIthJsonbValueFromContainer(container, static_cast<uint32>(*index));
      });
    }
    if (found == nullptr) return std::nullopt;
    current = *found;
  }
  return canonical_value(current);
}

// The canonical object {pointer: part} of the parts the JSON Pointers in
// `paths` select; a pointer to no part is left out.
std::string canonical_parts(Jsonb* document, ArrayType* paths) {
  auto [elements, nulls, count] = text_array_elements(paths);
  if (count == 0) {
    throw core::GuardError(core::SqlState::kInvalidParameterValue, "paths must not be empty", {},
                           "Pass NULL to fingerprint the whole payload.");
  }
  std::map<std::string, std::string> parts;
  for (int index = 0; index < count; ++index) {
    core::require_not_null("a path", nulls[index]);
    std::string_view pointer = *text_view(DatumGetTextPP(elements[index]));
    std::optional<std::vector<std::string>> tokens = core::parse_json_pointer(pointer);
    if (!tokens) {
      throw core::GuardError(core::SqlState::kInvalidParameterValue,
                             "path \"" + std::string(pointer) + "\" is not a JSON Pointer",
                             "A path is a JSON Pointer (RFC 6901): \"/order/amount\", "
                             "\"/items/0/sku\", with ~1 for \"/\" and ~0 for \"~\" in a key.");
    }
    if (std::optional<std::string> part = canonical_part(document, *tokens)) {
      parts.emplace(utf8_text(pointer.data(), static_cast<int>(pointer.size())), *part);
    }
  }
  return core::canonical_json_object({parts.begin(), parts.end()});
}

Datum sha256_hex(const std::string& canonical) {
  bytea* digest = call_pg([&]() noexcept {
    bytea* input = static_cast<bytea*>(palloc(VARHDRSZ + canonical.size()));
    SET_VARSIZE(input, VARHDRSZ + canonical.size());
    memcpy(VARDATA(input), canonical.data(), canonical.size());
    return DatumGetByteaPP(DirectFunctionCall1(sha256_bytea, PointerGetDatum(input)));
  });
  return text_datum(
      core::lowercase_hex(std::string_view(VARDATA_ANY(digest), VARSIZE_ANY_EXHDR(digest))));
}

}  // namespace

// Arguments: payload jsonb, paths text[] (NULL: the whole payload).
IDEMPOTENCY_SQL_FUNCTION(idempotency_fingerprint) {
  Jsonb* payload = jsonb_argument(fcinfo, 0);
  if (payload == nullptr) PG_RETURN_NULL();
  if (PG_ARGISNULL(1)) return sha256_hex(canonical_container(&payload->root));
  ArrayType* paths = call_pg([&]() noexcept { return PG_GETARG_ARRAYTYPE_P(1); });
  return sha256_hex(canonical_parts(payload, paths));
}
