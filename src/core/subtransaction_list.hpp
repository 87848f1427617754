// What a transaction did that must be undone or completed when it ends, entry
// by entry, each tagged with the subtransaction that did it: a subtransaction
// that aborts drops its entries (its caller undoes them), one that commits
// hands them to its parent, and the transaction's callback goes through
// what is left. Backend-local; the owner registers PostgreSQL's transaction
// and subtransaction callbacks, calls these from them, and tags each entry
// with GetCurrentSubTransactionId() (a SubTransactionId, which is a uint32).
#pragma once
#include "core/pure_cpp.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace idempotency::core {

using SubtransactionId = std::uint32_t;

template <typename Entry>
class SubtransactionList {
 public:
  // Remembers `entry` for `subtransaction`, the current one.
  void add(Entry entry, SubtransactionId subtransaction) {
    tagged_.push_back({std::move(entry), subtransaction});
  }

  // Makes room for `count` more entries, so that that many add() calls do
  // not throw.
  void reserve_more(std::size_t count) { tagged_.reserve(tagged_.size() + count); }

  // At SUBXACT_EVENT_ABORT_SUB of `mine`: passes each of its entries, last
  // first, to `undo` (which must not throw), and forgets them.
  template <typename Undo>
  void abort_subtransaction(SubtransactionId mine, Undo undo) noexcept {
    while (!tagged_.empty() && tagged_.back().subtransaction == mine) {
      undo(tagged_.back().entry);
      tagged_.pop_back();
    }
  }

  // At SUBXACT_EVENT_COMMIT_SUB of `mine`: its entries become `parent`'s.
  void commit_subtransaction(SubtransactionId mine, SubtransactionId parent) noexcept {
    for (auto tagged = tagged_.rbegin(); tagged != tagged_.rend() && tagged->subtransaction == mine;
         ++tagged) {
      tagged->subtransaction = parent;
    }
  }

  // Keeps the first `count` entries, undoing the others, last first.
  template <typename Undo>
  void truncate(std::size_t count, Undo undo) noexcept {
    while (tagged_.size() > count) {
      undo(tagged_.back().entry);
      tagged_.pop_back();
    }
  }

  // Forgets the entries `drop` is true of, whichever subtransaction added them.
  template <typename Drop>
  void erase_if(Drop drop) {
    tagged_.erase(std::remove_if(tagged_.begin(), tagged_.end(),
                                 [&drop](const Tagged& tagged) { return drop(tagged.entry); }),
                  tagged_.end());
  }

  // At the transaction's end: every entry left, in the order added; then clear().
  template <typename Visit>
  void for_each(Visit visit) noexcept {
    for (Tagged& tagged : tagged_) visit(tagged.entry);
  }
  void clear() noexcept { tagged_.clear(); }

  bool empty() const noexcept { return tagged_.empty(); }
  std::size_t size() const noexcept { return tagged_.size(); }

 private:
  // A subtransaction's entries are the tail of the list: any added after
  // them were added by subtransactions nested in it, which have ended and
  // either dropped theirs or handed them to it. So ending one costs its own
  // entries, not the transaction's.
  struct Tagged {
    Entry entry;
    SubtransactionId subtransaction;
  };
  std::vector<Tagged> tagged_;
};

}  // namespace idempotency::core
