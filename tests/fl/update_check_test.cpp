// Rules an update must pass before aggregation (fl/update_check.h).
#include "fednode/fl/update_check.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace fednode::fl {
namespace {

ModelWeights model(float a, float b) {
  ModelWeights w;
  w.parameters.push_back({"bias", {2}, {a, b}});
  w.parameters.push_back({"weight", {1, 2}, {a, -b}});
  return w;
}

TEST(UpdateCheck, AnUpdateOfTheBaseLayoutWithFiniteValuesPasses) {
  EXPECT_TRUE(check_update(model(1, 2), model(1.1f, 2.1f), 0).ok());
}

TEST(UpdateCheck, AWrongShapeOrNameIsRefusedNamingTheParameter) {
  ModelWeights wrong = model(1, 2);
  wrong.parameters[1].shape = {2, 1};
  Status s = check_update(model(1, 2), wrong, 0);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("weight"), std::string::npos) << s.message();
  ModelWeights fewer = model(1, 2);
  fewer.parameters.pop_back();
  EXPECT_FALSE(check_update(model(1, 2), fewer, 0).ok());
  ModelWeights short_values = model(1, 2);
  short_values.parameters[0].values.pop_back();
  EXPECT_FALSE(check_update(model(1, 2), short_values, 0).ok());
}

TEST(UpdateCheck, NonFiniteValuesAreRefused) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    Status s = check_update(model(1, 2), model(1, bad), 0);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("non-finite"), std::string::npos) << s.message();
  }
}

TEST(UpdateCheck, TheNormBoundIsRelativeToTheBase) {
  // base norm: sqrt(1 + 4 + 1 + 4) = sqrt(10); a change of (0.5, 0, 0.5, 0) has norm sqrt(0.5).
  ModelWeights base = model(1, 2), moved = model(1.5f, 2);
  double change = std::sqrt(0.5), base_norm = std::sqrt(10.0);
  EXPECT_NEAR(l2_distance(base, moved), change, 1e-6);
  EXPECT_NEAR(l2_norm(base), base_norm, 1e-6);
  EXPECT_TRUE(check_update(base, moved, change / base_norm * 1.01).ok());
  Status s = check_update(base, moved, change / base_norm * 0.99);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--max-update-norm"), std::string::npos) << s.message();
  // A sign-flipped, scaled update (the classic attack) is far outside a modest bound.
  ModelWeights flipped = model(-10, -20);
  EXPECT_FALSE(check_update(base, flipped, 1.0).ok());
}

}  // namespace
}  // namespace fednode::fl
