// The libtorch module is found and loaded only when asked for, with a clear error when absent.
#include "fednode/fl/torch_module.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace fednode::fl {
namespace {

TEST(TorchModule, LoadedOnlyWhenNeededAndAnAbsentModuleIsNamed) {
  const char* real = std::getenv("FEDNODE_TORCH_MODULE");
  std::string real_path = real ? real : "";
  EXPECT_FALSE(torch_module_loaded()) << "nothing has asked for libtorch yet";
  set_torch_threads(1);  // remembered, not a reason to load
  EXPECT_FALSE(torch_module_loaded());
  ::setenv("FEDNODE_TORCH_MODULE", "/nonexistent/libfednode-torch.so", 1);
  auto candidates = torch_module_candidates();
  ASSERT_GE(candidates.size(), 3u);
  EXPECT_EQ(candidates[0], "/nonexistent/libfednode-torch.so");
  EXPECT_NE(candidates[1].find("/libfednode-torch.so"), std::string::npos);
  EXPECT_NE(candidates[2].find("/lib/fednode/libfednode-torch.so"), std::string::npos);
  ModelWeights w;
  Status s = initial_weights("cifar10-cnn", 1, &w);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent/libfednode-torch.so"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("FEDNODE_TORCH_MODULE"), std::string::npos) << s.message();
  EXPECT_FALSE(torch_module_loaded());
  if (real_path.empty()) GTEST_SKIP() << "FEDNODE_TORCH_MODULE is not set (ctest sets it to the build's module)";
  ::setenv("FEDNODE_TORCH_MODULE", real_path.c_str(), 1);
  ASSERT_TRUE(initial_weights("cifar10-cnn", 1, &w).ok());
  EXPECT_TRUE(torch_module_loaded());
  EXPECT_EQ(w.parameter_count(), 62006u);
  EXPECT_FALSE(initial_weights("resnet-9000", 1, &w).ok());
}

}  // namespace
}  // namespace fednode::fl
