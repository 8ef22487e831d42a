#pragma once
#include "fednode/app/cli.h"

namespace fednode {

// `fednode train-local`: trains one model centrally and prints test accuracy per epoch.
int run_train_local(const TrainLocalOptions& options);

}  // namespace fednode
