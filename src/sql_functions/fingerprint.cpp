// fingerprint(): the sha256 (lowercase hex) of a JSON value's canonical text
// (core/canonical_json.hpp), or of the parts of it that JSON Pointers name,
// so that every client fingerprints a request the same way.
//
// What one call may cost is bounded (README, "Limits of what a client can make
// the server do"): the text is written once, straight into PostgreSQL memory
// capped at core::kMaxCanonicalTextBytes (54000 past it); numbers are read as
// stored, never expanded; at most core::kMaxFingerprintPaths paths, each
// distinct pointer walked once; every loop over the payload, the paths and
// their tokens checks for interrupts, so statement_timeout and
// pg_cancel_backend stop it. All of it lives in a memory context of its own,
// deleted when the call returns (freed by the abort when it fails).
#include <exception>
#include <stdexcept>
#include <string>

#include "core/canonical_json.hpp"
#include "core/canonical_number.hpp"
#include "core/canonical_text.hpp"
#include "core/guard_error.hpp"

#include "glue/arguments.hpp"
#include "glue/error_boundary.hpp"

using namespace idempotency;
using namespace idempotency::pg;

namespace {

// The call's memory: current while the object lives. Deleted at the end of
// a call that returns; a failing call leaves it to the abort, which frees it
// with its parent, because the ERROR in flight (PgError) was copied into it.
class CallMemory {
 public:
  CallMemory()
      : context_(call_pg([]() noexcept {
          return AllocSetContextCreate(CurrentMemoryContext, "idempotency fingerprint",
                                       ALLOCSET_DEFAULT_SIZES);
        })),
        caller_(MemoryContextSwitchTo(context_)),
        exceptions_(std::uncaught_exceptions()) {}
  ~CallMemory() {
    MemoryContextSwitchTo(caller_);
    if (std::uncaught_exceptions() == exceptions_) MemoryContextDelete(context_);
  }
  CallMemory(const CallMemory&) = delete;
  CallMemory& operator=(const CallMemory&) = delete;

 private:
  MemoryContext context_;
  MemoryContext caller_;
  int exceptions_;
};

// Canonical text in palloc'd memory, VARHDRSZ bytes in front so that it is
// digested as a bytea in place, without a copy.
class PallocText final : public core::CanonicalText {
 public:
  bytea* as_bytea() {
    if (buffer_ == nullptr) reallocate(0);
    SET_VARSIZE(buffer_, VARHDRSZ + size());
    return reinterpret_cast<bytea*>(buffer_);
  }

 protected:
  char* reallocate(std::size_t capacity) override {
    buffer_ = call_pg([&]() noexcept {
      return static_cast<char*>(buffer_ == nullptr ? palloc(VARHDRSZ + capacity)
                                                   : repalloc(buffer_, VARHDRSZ + capacity));
    });
    return buffer_ + VARHDRSZ;
  }

 private:
  char* buffer_ = nullptr;
};

void check_for_interrupts() {
  call_pg([]() noexcept { CHECK_FOR_INTERRUPTS(); });
}

struct IteratorStep {
  JsonbIteratorToken token;
  JsonbValue value;
};

// The next token of a container, nested containers left as jbvBinary. Every
// loop over the payload's members and elements steps through here, so it
// checks for interrupts first.
IteratorStep next_step(JsonbIterator** iterator) {
  return call_pg([&]() noexcept {
    CHECK_FOR_INTERRUPTS();
    IteratorStep step;
    step.token = JsonbIteratorNext(iterator, &step.value, true);
    return step;
  });
}

// Text of the database encoding as UTF-8, which is what gets digested: the
// text itself, or a palloc'd conversion (free it with release_utf8).
std::string_view utf8_text(const char* text, int length) {
  if (GetDatabaseEncoding() == PG_UTF8) return {text, static_cast<std::size_t>(length)};
  const char* converted =
      call_pg([&]() noexcept { return pg_server_to_any(text, length, PG_UTF8); });
  if (converted == text) return {text, static_cast<std::size_t>(length)};
  return converted;
}

void release_utf8(std::string_view utf8, const char* text) {
  if (utf8.data() != text) call_pg([&]() noexcept { pfree(const_cast<char*>(utf8.data())); });
}

void write_string(core::CanonicalText& out, const char* text, int length) {
  std::string_view utf8 = utf8_text(text, length);
  core::write_canonical_string(out, utf8);
  release_utf8(utf8, text);
}

void write_number(core::CanonicalText& out, Numeric number) {
  std::string_view stored(VARDATA_ANY(number), VARSIZE_ANY_EXHDR(number));
  core::write_canonical_number(out, core::decode_stored_numeric(stored));
}

void write_container(core::CanonicalText& out, JsonbContainer* container);

void write_value(core::CanonicalText& out, const JsonbValue& value) {
  switch (value.type) {
    case jbvNull:
      out.append("null");
      return;
    case jbvBool:
      out.append(value.val.boolean ? "true" : "false");
      return;
    case jbvString:
      write_string(out, value.val.string.val, value.val.string.len);
      return;
    case jbvNumeric:
      write_number(out, value.val.numeric);
      return;
    case jbvBinary:
      write_container(out, value.val.binary.data);
      return;
    default:
      throw std::logic_error("idempotency: unexpected jsonb value type");
  }
}

// An object's key: as stored (to look its value up) and in UTF-8 (to sort
// and write it). 24 bytes a member, only for the objects being written.
struct MemberKey {
  const char* stored;
  const char* utf8;
  uint32 stored_length;
  uint32 utf8_length;
};

// UTF-8 byte order (memcmp, a prefix first), for qsort_arg. Checks for
// interrupts: a sort is a loop over client input too.
template <typename Entry>
int compare_utf8(const void* left, const void* right, void*) {
  CHECK_FOR_INTERRUPTS();
  const auto* a = static_cast<const Entry*>(left);
  const auto* b = static_cast<const Entry*>(right);
  int order = memcmp(a->utf8, b->utf8, Min(a->utf8_length, b->utf8_length));
  if (order != 0) return order;
  return a->utf8_length < b->utf8_length ? -1 : a->utf8_length > b->utf8_length ? 1 : 0;
}

template <typename Entry>
void sort_by_utf8(Entry* entries, std::size_t count) {
  call_pg(
      [&]() noexcept { qsort_arg(entries, count, sizeof(Entry), compare_utf8<Entry>, nullptr); });
}

// {"key":value,...} sorted by the key's UTF-8 bytes (jsonb keeps its own
// order: by length first), each value looked up by its key when written.
void write_object(core::CanonicalText& out, JsonbContainer* container, JsonbIterator** iterator) {
  uint32 count = JsonContainerSize(container);
  auto* keys = call_pg([&]() noexcept {
    return static_cast<MemberKey*>(palloc(sizeof(MemberKey) * Max(count, 1u)));
  });
  uint32 stored = 0;
  for (IteratorStep step = next_step(iterator); step.token == WJB_KEY; step = next_step(iterator)) {
    const JsonbValue& key = step.value;
    std::string_view utf8 = utf8_text(key.val.string.val, key.val.string.len);
    keys[stored++] = {key.val.string.val, utf8.data(), static_cast<uint32>(key.val.string.len),
                      static_cast<uint32>(utf8.size())};
    next_step(iterator);  // the value, looked up again when written
  }
  sort_by_utf8(keys, stored);
  out.push_back('{');
  for (uint32 index = 0; index < stored; ++index) {
    check_for_interrupts();
    const MemberKey& key = keys[index];
    if (index > 0) out.push_back(',');
    core::write_canonical_string(out, std::string_view(key.utf8, key.utf8_length));
    out.push_back(':');
    JsonbValue* value = call_pg([&]() noexcept {
      return getKeyJsonValueFromContainer(container, key.stored,
                                          static_cast<int>(key.stored_length), nullptr);
    });
    if (value == nullptr) throw std::logic_error("idempotency: a jsonb key without its value");
    write_value(out, *value);
    call_pg([&]() noexcept { pfree(value); });
    release_utf8(std::string_view(key.utf8, key.utf8_length), key.stored);
  }
  out.push_back('}');
  call_pg([&]() noexcept { pfree(keys); });
}

void write_container(core::CanonicalText& out, JsonbContainer* container) {
  // One recursion per nesting level: a document the server accepted can
  // still be too deep to walk here.
  call_pg([]() noexcept { check_stack_depth(); });
  JsonbIterator* iterator = call_pg([&]() noexcept { return JsonbIteratorInit(container); });
  IteratorStep step = next_step(&iterator);
  if (step.token == WJB_BEGIN_OBJECT) {
    write_object(out, container, &iterator);
    return;
  }
  // An array, or a scalar document (stored as a one-element raw-scalar array).
  bool scalar_document = step.value.val.array.rawScalar;
  if (!scalar_document) out.push_back('[');
  bool first = true;
  for (step = next_step(&iterator); step.token == WJB_ELEM; step = next_step(&iterator)) {
    if (!first) out.push_back(',');
    first = false;
    write_value(out, step.value);
  }
  if (!scalar_document) out.push_back(']');
}

// The part of `document` that `pointer` selects, or nullptr when the
// document has no such part.
const JsonbValue* find_part(Jsonb* document, std::string_view pointer, JsonbValue* part) {
  part->type = jbvBinary;
  part->val.binary.data = &document->root;
  part->val.binary.len = VARSIZE(document) - VARHDRSZ;
  core::JsonPointerTokens tokens(pointer);
  while (const std::string* token = tokens.next()) {
    check_for_interrupts();
    if (part->type != jbvBinary || JsonContainerIsScalar(part->val.binary.data)) return nullptr;
    JsonbContainer* container = part->val.binary.data;
    JsonbValue* found = nullptr;
    if (JsonContainerIsObject(container)) {
      found = call_pg([&]() noexcept {
        return getKeyJsonValueFromContainer(container, token->data(),
                                            static_cast<int>(token->size()), nullptr);
      });
    } else if (std::optional<std::size_t> index = core::json_pointer_array_index(*token)) {
      found = call_pg([&]() noexcept {
        return getIthJsonbValueFromContainer(container, static_cast<uint32>(*index));
      });
    }
    if (found == nullptr) return nullptr;
    *part = *found;
    call_pg([&]() noexcept { pfree(found); });
  }
  return part;
}

// A path argument: the pointer as given, and in UTF-8 (its key in the text).
struct Path {
  const char* pointer;
  const char* utf8;
  uint32 pointer_length;
  uint32 utf8_length;
};

bool same_path(const Path& a, const Path& b) {
  return a.utf8_length == b.utf8_length && memcmp(a.utf8, b.utf8, a.utf8_length) == 0;
}

// The canonical object {pointer: part} of the parts the JSON Pointers in
// `paths` select, sorted by pointer; a pointer to no part is left out, and a
// pointer given twice is walked once.
void write_parts(core::CanonicalText& out, Jsonb* document, ArrayType* paths) {
  int count = call_pg([&]() noexcept { return ArrayGetNItems(ARR_NDIM(paths), ARR_DIMS(paths)); });
  if (count == 0) {
    throw core::GuardError(core::SqlState::kInvalidParameterValue, "paths must not be empty", {},
                           "Pass NULL to fingerprint the whole payload.");
  }
  core::require_fingerprint_path_count(static_cast<std::size_t>(count));
  TextArrayElements given = text_array_elements(paths);
  int element_count = given.count;
  auto* sorted =
      call_pg([&]() noexcept { return static_cast<Path*>(palloc(sizeof(Path) * element_count)); });
  for (int index = 0; index < element_count; ++index) {
    check_for_interrupts();
    core::require_not_null("a path", given.nulls[index]);
    std::string_view pointer = *text_view(DatumGetTextPP(given.elements[index]));
    if (!core::is_json_pointer(pointer)) {
      throw core::GuardError(core::SqlState::kInvalidParameterValue,
                             "path \"" + std::string(pointer) + "\" is not a JSON Pointer",
                             "A path is a JSON Pointer (RFC 6901): \"/order/amount\", "
                             "\"/items/0/sku\", with ~1 for \"/\" and ~0 for \"~\" in a key.");
    }
    std::string_view utf8 = utf8_text(pointer.data(), static_cast<int>(pointer.size()));
    sorted[index] = {pointer.data(), utf8.data(), static_cast<uint32>(pointer.size()),
                     static_cast<uint32>(utf8.size())};
  }
  sort_by_utf8(sorted, static_cast<std::size_t>(element_count));
  out.push_back('{');
  bool first = true;
  for (int index = 0; index < element_count; ++index) {
    check_for_interrupts();
    const Path& path = sorted[index];
    if (index > 0 && same_path(path, sorted[index - 1])) continue;
    JsonbValue storage;
    const JsonbValue* part =
        find_part(document, std::string_view(path.pointer, path.pointer_length), &storage);
    if (part == nullptr) continue;
    if (!first) out.push_back(',');
    first = false;
    core::write_canonical_string(out, std::string_view(path.utf8, path.utf8_length));
    out.push_back(':');
    write_value(out, *part);
  }
  out.push_back('}');
}

std::string sha256_hex(PallocText& canonical) {
  bytea* digest = call_pg([&]() noexcept {
    return DatumGetByteaPP(
        DirectFunctionCall1(sha256_bytea, PointerGetDatum(canonical.as_bytea())));
  });
  return core::lowercase_hex(std::string_view(VARDATA_ANY(digest), VARSIZE_ANY_EXHDR(digest)));
}

}  // namespace

// Arguments: payload jsonb, paths text[] (NULL: the whole payload).
IDEMPOTENCY_SQL_FUNCTION(idempotency_fingerprint) {
  Jsonb* payload = jsonb_argument(fcinfo, 0);
  if (payload == nullptr) PG_RETURN_NULL();
  std::string digest;
  {
    CallMemory memory;
    PallocText canonical;
    if (PG_ARGISNULL(1)) {
      write_container(canonical, &payload->root);
    } else {
      ArrayType* paths = call_pg([&]() noexcept { return PG_GETARG_ARRAYTYPE_P(1); });
      write_parts(canonical, payload, paths);
    }
    digest = sha256_hex(canonical);
  }
  return text_datum(digest);
}
