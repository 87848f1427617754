#include <gtest/gtest.h>

#include "core/purge_schedule.hpp"

namespace idempotency::core {
namespace {

TEST(NextRunDelay, NoFailuresIsTheInterval) {
  EXPECT_EQ(next_run_delay_ms(60000, 0), 60000);
  EXPECT_EQ(next_run_delay_ms(1, 0), 1);
}

TEST(NextRunDelay, DoublesPerFailure) {
  EXPECT_EQ(next_run_delay_ms(10000, 1), 20000);
  EXPECT_EQ(next_run_delay_ms(10000, 2), 40000);
  EXPECT_EQ(next_run_delay_ms(10000, 3), 80000);
}

TEST(NextRunDelay, ShortIntervalsBackOffFromOneSecond) {
  EXPECT_EQ(next_run_delay_ms(100, 1), 2000);
  EXPECT_EQ(next_run_delay_ms(100, 2), 4000);
}

TEST(NextRunDelay, CappedAtTenMinutes) {
  EXPECT_EQ(next_run_delay_ms(60000, 10), kMaxFailureBackoffMs);
  EXPECT_EQ(next_run_delay_ms(60000, 1000000), kMaxFailureBackoffMs);
}

TEST(NextRunDelay, LongIntervalsAreNeverShortenedByAFailure) {
  const std::int64_t hour = 3600 * 1000;
  EXPECT_EQ(next_run_delay_ms(hour, 1), hour);
  EXPECT_EQ(next_run_delay_ms(hour, 50), hour);
}

TEST(NextRunDelay, NeverDecreasesWithMoreFailures) {
  for (std::int64_t interval : {1, 500, 1000, 60000, 700000}) {
    std::int64_t previous = next_run_delay_ms(interval, 0);
    for (int failures = 1; failures < 40; ++failures) {
      std::int64_t delay = next_run_delay_ms(interval, failures);
      EXPECT_GE(delay, previous) << interval << " ms, " << failures << " failures";
      previous = delay;
    }
  }
}

}  // namespace
}  // namespace idempotency::core
