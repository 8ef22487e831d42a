// Runs a libFuzzer-style target without libFuzzer (gcc builds, CI): every file of the corpus
// once, then random mutations of corpus entries until the time is up. No coverage feedback, so
// it finds less than libFuzzer (scripts/fuzz.sh), but every input runs through the same target
// code and a crash fails the test. The input being run when a signal arrives is written to
// crash-<seed> in the working directory, to be replayed with the file as the only argument.
//   fuzz_<target> [--seconds N] [--seed S] [--max-len L] CORPUS_DIR_OR_FILE...
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

const std::string* g_current = nullptr;
char g_crash_path[64] = "crash";

void on_fatal_signal(int sig) {
  if (g_current) {
    int fd = ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      [[maybe_unused]] auto n = ::write(fd, g_current->data(), g_current->size());
      ::close(fd);
    }
    const char msg[] = "fuzz: the input that crashed is in ";
    [[maybe_unused]] auto a = ::write(2, msg, sizeof msg - 1);
    [[maybe_unused]] auto b = ::write(2, g_crash_path, std::strlen(g_crash_path));
    [[maybe_unused]] auto c = ::write(2, "\n", 1);
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void run(const std::string& input) {
  g_current = &input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  g_current = nullptr;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Bytes that mean something to the decoders: msgpack headers of every width, lengths at the
// edges, and the first bytes of our sealed formats.
constexpr std::uint8_t kInteresting[] = {0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2,
                                         0xc3, 0xc4, 0xc5, 0xc6, 0xca, 0xcb, 0xcc, 0xcf, 0xd0, 0xd3, 0xd9,
                                         0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff, 'F',  'S'};

std::string mutate(std::string s, const std::vector<std::string>& corpus, std::mt19937_64& rng, std::size_t max_len) {
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  int rounds = 1 + static_cast<int>(pick(4));
  for (int r = 0; r < rounds; ++r) {
    switch (pick(8)) {
      case 0:  // flip a bit
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1u << pick(8));
        break;
      case 1:  // a random byte
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(rng());
        break;
      case 2:  // a meaningful byte
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(kInteresting[pick(sizeof kInteresting)]);
        break;
      case 3: {  // insert random bytes
        std::string ins(1 + pick(16), '\0');
        for (auto& c : ins) c = static_cast<char>(rng());
        s.insert(pick(s.size() + 1), ins);
        break;
      }
      case 4:  // erase a range
        if (!s.empty()) {
          std::size_t at = pick(s.size());
          s.erase(at, 1 + pick(std::min<std::size_t>(32, s.size() - at)));
        }
        break;
      case 5:  // duplicate a range
        if (!s.empty()) {
          std::size_t at = pick(s.size());
          std::string piece = s.substr(at, 1 + pick(32));
          s.insert(pick(s.size() + 1), piece);
        }
        break;
      case 6: {  // splice with another entry
        const std::string& other = corpus[pick(corpus.size())];
        if (!other.empty()) s = s.substr(0, pick(s.size() + 1)) + other.substr(pick(other.size()));
        break;
      }
      case 7:  // a 32-bit length at the edge, big-endian
        if (s.size() >= 4) {
          std::size_t at = pick(s.size() - 3);
          std::uint32_t v = pick(2) ? 0xffffffffu : static_cast<std::uint32_t>(rng());
          for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (24 - 8 * i));
        }
        break;
    }
  }
  if (s.size() > max_len) s.resize(max_len);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 10;
  std::uint64_t seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::size_t max_len = 1 << 16;
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--max-len" && i + 1 < argc) {
      max_len = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::filesystem::is_directory(a)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(a)) {
        if (e.is_regular_file()) corpus.push_back(slurp(e.path()));
      }
    } else if (std::filesystem::is_regular_file(a)) {
      corpus.push_back(slurp(a));
    } else {
      std::fprintf(stderr, "fuzz: '%s' is neither a flag (--seconds, --seed, --max-len) nor a corpus file or directory\n",
                   a.c_str());
      return 2;
    }
  }
  std::snprintf(g_crash_path, sizeof g_crash_path, "crash-%llu", static_cast<unsigned long long>(seed));
  for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, on_fatal_signal);
  if (corpus.empty()) corpus.emplace_back();
  for (const auto& input : corpus) run(input);
  std::mt19937_64 rng(seed);
  std::uint64_t runs = 0;
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 64; ++i, ++runs) run(mutate(corpus[rng() % corpus.size()], corpus, rng, max_len));
  }
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("fuzz: %zu corpus inputs, then %llu mutated inputs in %.1f s (seed %llu): no crash\n", corpus.size(),
              static_cast<unsigned long long>(runs), took, static_cast<unsigned long long>(seed));
  return 0;
}
