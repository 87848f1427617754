// Unit tests for src/core/subtransaction_list: what a subtransaction's abort
// undoes, what its commit hands to its parent, and what is left for the
// transaction's end, through nested and sibling subtransactions.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/subtransaction_list.hpp"

namespace idempotency::core {
namespace {

// PostgreSQL numbers the top transaction 1 and each subtransaction after.
constexpr SubtransactionId kTop = 1;

std::vector<std::string> entries_of(SubtransactionList<std::string>& list) {
  std::vector<std::string> entries;
  list.for_each([&entries](const std::string& entry) { entries.push_back(entry); });
  return entries;
}

TEST(SubtransactionList, AnAbortUndoesItsOwnEntriesLastFirst) {
  SubtransactionList<std::string> list;
  list.add("top", kTop);
  list.add("a1", 2);
  list.add("a2", 2);
  std::vector<std::string> undone;
  list.abort_subtransaction(2, [&undone](const std::string& entry) { undone.push_back(entry); });
  EXPECT_EQ(undone, (std::vector<std::string>{"a2", "a1"}));
  EXPECT_EQ(entries_of(list), (std::vector<std::string>{"top"}));
}

TEST(SubtransactionList, ACommitHandsItsEntriesToItsParent) {
  SubtransactionList<std::string> list;
  list.add("top", kTop);
  list.add("outer", 2);
  list.add("inner", 3);  // nested in 2
  list.commit_subtransaction(3, 2);
  // Its parent's abort now undoes them too; the top's entry stays.
  std::vector<std::string> undone;
  list.abort_subtransaction(2, [&undone](const std::string& entry) { undone.push_back(entry); });
  EXPECT_EQ(undone, (std::vector<std::string>{"inner", "outer"}));
  EXPECT_EQ(entries_of(list), (std::vector<std::string>{"top"}));
}

TEST(SubtransactionList, CommittedUpToTheTopTheyStayForTheTransactionsEnd) {
  SubtransactionList<std::string> list;
  list.add("outer", 2);
  list.add("inner", 3);
  list.commit_subtransaction(3, 2);
  list.commit_subtransaction(2, kTop);
  list.abort_subtransaction(4, [](const std::string&) { ADD_FAILURE() << "nothing of 4"; });
  EXPECT_EQ(entries_of(list), (std::vector<std::string>{"outer", "inner"}));
  list.clear();
  EXPECT_TRUE(list.empty());
}

TEST(SubtransactionList, AnAbortedSiblingLeavesTheCommittedOneAlone) {
  SubtransactionList<std::string> list;
  list.add("first", 2);
  list.commit_subtransaction(2, kTop);
  list.add("second", 3);  // a sibling of 2, after it
  int undone = 0;
  list.abort_subtransaction(3, [&undone](const std::string&) { ++undone; });
  EXPECT_EQ(undone, 1);
  EXPECT_EQ(entries_of(list), (std::vector<std::string>{"first"}));
}

TEST(SubtransactionList, TruncateUndoesWhatCameAfter) {
  SubtransactionList<std::string> list;
  list.add("kept", kTop);
  std::size_t mark = list.size();
  list.reserve_more(2);
  list.add("x", kTop);
  list.add("y", kTop);
  std::vector<std::string> undone;
  list.truncate(mark, [&undone](const std::string& entry) { undone.push_back(entry); });
  EXPECT_EQ(undone, (std::vector<std::string>{"y", "x"}));
  EXPECT_EQ(entries_of(list), (std::vector<std::string>{"kept"}));
}

TEST(SubtransactionList, EraseIfKeepsTheOthersInOrderAndTheirOwners) {
  SubtransactionList<std::string> list;
  list.add("a", kTop);
  list.add("drop", kTop);
  list.add("b", 2);
  list.add("drop", 2);
  list.add("c", 2);
  list.erase_if([](const std::string& entry) { return entry == "drop"; });
  EXPECT_EQ(entries_of(list), (std::vector<std::string>{"a", "b", "c"}));
  std::vector<std::string> undone;
  list.abort_subtransaction(2, [&undone](const std::string& entry) { undone.push_back(entry); });
  EXPECT_EQ(undone, (std::vector<std::string>{"c", "b"}));
}

}  // namespace
}  // namespace idempotency::core
