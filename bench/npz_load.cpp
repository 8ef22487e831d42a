// Loads one party's .npz as a fednode node does (fl/local_data.h) and prints the time and the
// process's peak resident memory (bench/own-data.sh runs NumPy's np.load beside it).
//   npz-load-bench FILE.npz
#include <sys/resource.h>

#include <chrono>
#include <cstdio>

#include "fednode/fl/local_data.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: npz-load-bench FILE.npz\n");
    return 2;
  }
  auto t0 = std::chrono::steady_clock::now();
  fednode::fl::LocalData d;
  fednode::Status s = fednode::fl::load_npz(argv[1], fednode::fl::Task::kClassification, &d);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!s.ok()) {
    std::fprintf(stderr, "npz-load-bench: %s\n", s.message().c_str());
    return 1;
  }
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  std::printf("fednode\t%.3f\t%.1f\t%zu\n", seconds, static_cast<double>(u.ru_maxrss) / 1024.0, d.train.size());
  return 0;
}
