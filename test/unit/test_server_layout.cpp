#include <gtest/gtest.h>

#include "core/server_layout.hpp"

namespace idempotency::core {
namespace {

TEST(SameResultRelInfoLayout, SameReleaseMatches) {
  EXPECT_TRUE(same_result_rel_info_layout(170002, 170002));
  EXPECT_TRUE(same_result_rel_info_layout(190000, 190000));
  EXPECT_TRUE(same_result_rel_info_layout(170001, 170001));
}

TEST(SameResultRelInfoLayout, MinorsOnTheSameSideOfABreakMatch) {
  EXPECT_TRUE(same_result_rel_info_layout(170000, 170002));  // 17.2 restored 17.0's layout
  EXPECT_TRUE(same_result_rel_info_layout(170006, 170000));
  EXPECT_TRUE(same_result_rel_info_layout(160004, 160006));
  EXPECT_TRUE(same_result_rel_info_layout(150008, 150010));
  EXPECT_TRUE(same_result_rel_info_layout(180000, 180003));
  EXPECT_TRUE(same_result_rel_info_layout(190000, 190001));
}

TEST(SameResultRelInfoLayout, BuildAndServerStraddlingABreakDiffer) {
  EXPECT_FALSE(same_result_rel_info_layout(170000, 170001));
  EXPECT_FALSE(same_result_rel_info_layout(170001, 170002));
  EXPECT_FALSE(same_result_rel_info_layout(170001, 170000));
  EXPECT_FALSE(same_result_rel_info_layout(160005, 160004));
  EXPECT_FALSE(same_result_rel_info_layout(160006, 160005));
  EXPECT_FALSE(same_result_rel_info_layout(150009, 150008));
  EXPECT_FALSE(same_result_rel_info_layout(150010, 150009));
}

TEST(SameResultRelInfoLayout, OnlyTheBreakingMinorOfEachSeriesIsSpecial) {
  // 16.1 is not 17.1: the break is per series.
  EXPECT_TRUE(same_result_rel_info_layout(160000, 160001));
  EXPECT_TRUE(same_result_rel_info_layout(150000, 150005));
}

TEST(SameResultRelInfoLayout, DifferentMajorsDiffer) {
  EXPECT_FALSE(same_result_rel_info_layout(180000, 190000));
  EXPECT_FALSE(same_result_rel_info_layout(170002, 180002));
}

TEST(ParseServerVersionNum, ReadsTheGucsForm) {
  EXPECT_EQ(parse_server_version_num("170002"), 170002);
  EXPECT_EQ(parse_server_version_num("190000"), 190000);
}

TEST(ParseServerVersionNum, RejectsWhatIsNotAVersionNumber) {
  EXPECT_EQ(parse_server_version_num(""), std::nullopt);
  EXPECT_EQ(parse_server_version_num("17.2"), std::nullopt);
  EXPECT_EQ(parse_server_version_num("170002 "), std::nullopt);
  EXPECT_EQ(parse_server_version_num("-170002"), std::nullopt);
  EXPECT_EQ(parse_server_version_num("90624"), std::nullopt);  // 9.6: before the form
  EXPECT_EQ(parse_server_version_num("99999999999"), std::nullopt);
}

}  // namespace
}  // namespace idempotency::core
