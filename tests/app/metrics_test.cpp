// The /metrics endpoint: the text format, the HTTP front (over a real socket), and the node's page
// checked by Prometheus's own promtool where it is installed.
#include <gtest/gtest.h>

#include <asio.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "fednode/app/node_metrics.h"
#include "fednode/net/metrics_http.h"
#include "fednode/util/prometheus_text.h"

namespace fednode {
namespace {

TEST(PrometheusText, FamiliesSamplesAndEscapedLabels) {
  PrometheusText t;
  t.family("x_total", "counter", "A help with a \\ and\na newline").sample("x_total", std::uint64_t{3}, {{"a", "q\"uo\\te\n"}});
  t.gauge("y", "", 0.1);
  EXPECT_EQ(t.str(),
            "# HELP x_total A help with a \\\\ and\\na newline\n# TYPE x_total counter\n"
            "x_total{a=\"q\\\"uo\\\\te\\n\"} 3\n# HELP y \n# TYPE y gauge\ny 0.1\n");
  EXPECT_EQ(prometheus_number(1.0 / 0.0), "+Inf");
  EXPECT_EQ(prometheus_number(0.0 / 0.0), "NaN");
  EXPECT_EQ(prometheus_number(2.5e-7), "2.5e-07");
}

TEST(PrometheusText, HistogramBucketsAreCumulative) {
  Histogram h({0.1, 1});
  for (double v : {0.05, 0.1, 0.5, 7.0}) h.observe(v);
  PrometheusText t;
  t.histogram("d_seconds", "d", h, {{"k", "v"}});
  EXPECT_EQ(t.str(),
            "# HELP d_seconds d\n# TYPE d_seconds histogram\n"
            "d_seconds_bucket{k=\"v\",le=\"0.1\"} 2\nd_seconds_bucket{k=\"v\",le=\"1\"} 3\n"
            "d_seconds_bucket{k=\"v\",le=\"+Inf\"} 4\nd_seconds_sum{k=\"v\"} 7.65\nd_seconds_count{k=\"v\"} 4\n");
}

TEST(MetricsHttp, RequestsAreJudged) {
  using net::judge_http_request;
  EXPECT_EQ(judge_http_request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
  EXPECT_EQ(judge_http_request("GET /metrics?x=1 HTTP/1.0\r\n\r\n").status, 200);
  auto head = judge_http_request("HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.head_only);
  EXPECT_EQ(judge_http_request("GET / HTTP/1.1\r\n\r\n").status, 404);
  EXPECT_EQ(judge_http_request("POST /metrics HTTP/1.1\r\n\r\n").status, 405);
  EXPECT_EQ(judge_http_request("DELETE /metrics HTTP/1.1\r\n\r\n").status, 405);
  for (const char* bad : {"", "\r\n\r\n", "GET\r\n\r\n", "GET /metrics\r\n\r\n", "GET /metrics HTTP/2\r\n\r\n",
                          "GET metrics HTTP/1.1\r\n\r\n", "get /metrics HTTP/1.1\r\n\r\n",
                          "GET /metrics HTTP/1.1 extra\r\n\r\n", "\x16\x03\x01 binary\r\n\r\n"}) {
    EXPECT_EQ(judge_http_request(bad).status, 400) << bad;
  }
}

// The live page's routes, and the Host rule that keeps a rebinding web page out.
TEST(MetricsHttp, RoutesAndTheHostRule) {
  using net::judge_http_request;
  const std::vector<net::HttpPath> paths = {{"/metrics", false}, {"/", true}, {"/api/status", true}};
  auto at = [&](const std::string& head, std::string_view own = {}) { return judge_http_request(head, paths, own); };
  EXPECT_EQ(at("GET / HTTP/1.1\r\nHost: 127.0.0.1:9464\r\n\r\n").route, 1u);
  EXPECT_EQ(at("GET /api/status?t=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").route, 2u);
  EXPECT_EQ(at("GET /api/status?rounds_after=7 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").query, "rounds_after=7");
  EXPECT_EQ(at("GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").query, "");
  EXPECT_EQ(at("GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").status, 404);
  for (const char* ok : {"Host: localhost:9464", "Host: LocalHost", "Host: [::1]:9464", "host: 198.18.0.7", "HOST:10.0.0.1:80", ""}) {
    EXPECT_EQ(at(std::string("GET / HTTP/1.1\r\n") + ok + "\r\n\r\n").status, 200) << ok;
  }
  for (const char* bad : {"Host: attacker.example", "Host: attacker.example:9464", "Host: 127.0.0.1.nip.io", "HoSt: attacker.example"}) {
    EXPECT_EQ(at(std::string("GET /api/status HTTP/1.1\r\n") + bad + "\r\n\r\n").status, 403) << bad;
  }
  EXPECT_EQ(at("GET / HTTP/1.1\r\nHost: node-1.lab:9464\r\n\r\n", "node-1.lab").status, 200) << "the node's own name";
  EXPECT_EQ(at("GET /metrics HTTP/1.1\r\nHost: node-1.lab:9464\r\n\r\n").status, 200) << "scrapers name hosts freely";
  EXPECT_EQ(judge_http_request("GET /metrics HTTP/1.1\r\nHost: anything\r\n\r\n").status, 200) << "Prometheus alone";
}

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.listen(PeerAddress{"127.0.0.1", 0}).ok());
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    asio::post(io_, [this] { server_.close(); });
    guard_.reset();
    thread_.join();
  }
  // Sends `request` and reads until the server closes.
  std::string exchange(const std::string& request) {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), server_.port()});
    asio::write(s, asio::buffer(request));
    std::string out;
    std::error_code ec;
    char buf[4096];
    for (;;) {
      std::size_t n = s.read_some(asio::buffer(buf), ec);
      out.append(buf, n);
      if (ec) break;
    }
    return out;
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_{asio::make_work_guard(io_)};
  int renders_ = 0;
  net::MetricsHttpServer server_{io_, [this] {
                                   ++renders_;
                                   return std::string("fednode_up 1\n");
                                 }};
  std::thread thread_;
};

TEST_F(MetricsServerTest, ServesTheRenderedPageAndNothingElse) {
  std::string ok = exchange("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(ok.find("Content-Length: 13\r\n"), std::string::npos);
  EXPECT_EQ(ok.substr(ok.size() - 13), "fednode_up 1\n");
  std::string head = exchange("HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(head.find("fednode_up"), std::string::npos);
  EXPECT_EQ(exchange("GET /debug HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  std::string post = exchange("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_EQ(post.rfind("HTTP/1.1 405", 0), 0u);
  EXPECT_NE(post.find("Allow: GET, HEAD"), std::string::npos);
  EXPECT_EQ(exchange("garbage\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(exchange("GET /metrics HTTP/1.1\r\nX: " + std::string(10000, 'a') + "\r\n\r\n").rfind("HTTP/1.1 431", 0), 0u);
  EXPECT_EQ(renders_, 2);  // only the two requests for the page rendered it
  EXPECT_EQ(server_.counters().dropped_in, 4u);  // 404, 405, 400, 431
}

NodeMetrics sample_node(const storage::StorageStats& storage, const FlMetrics& fl) {
  NodeMetrics m;
  m.version = "1.2.3";
  m.term = 7;
  m.role = "follower";
  m.voters = 3;
  m.channels = {{"raft_udp", net::ChannelCounters{10, 20, 1, 2, 3, 0, 1, 0, 0, 0}}, {"data_tcp", {}}};
  m.storage = &storage;
  m.round = 4;
  m.rounds_planned = 10;
  m.have_accuracy = true;
  m.test_accuracy = 0.5;
  m.fl = &fl;
  return m;
}

TEST(NodeMetrics, ThePageNamesEveryPartWithItsLabels) {
  storage::StorageStats st;
  st.syncs = 5;
  st.sync_seconds.observe(0.002);
  FlMetrics fl;
  fl.note("update_received");
  fl.round_seconds.observe(3.0);
  std::string page = render_metrics(sample_node(st, fl));
  for (const char* line : {"fednode_raft_term 7\n", "fednode_raft_role{role=\"follower\"} 1\n",
                           "fednode_raft_role{role=\"leader\"} 0\n", "fednode_raft_members{kind=\"voter\"} 3\n",
                           "fednode_channel_bytes_total{channel=\"raft_udp\",direction=\"out\"} 20\n",
                           "fednode_channel_auth_failed_total{channel=\"raft_udp\"} 1\n",
                           "fednode_storage_fsyncs_total 5\n", "fednode_storage_fsync_seconds_bucket{le=\"0.0025\"} 1\n",
                           "fednode_fl_round 4\n", "fednode_fl_test_accuracy 0.5\n",
                           "fednode_fl_updates_accepted_total 1\n", "fednode_fl_round_duration_seconds_count 1\n",
                           "fednode_build_info{version=\"1.2.3\"} 1\n"}) {
    EXPECT_NE(page.find(line), std::string::npos) << line;
  }
}

// Prometheus's own checker (Debian package prometheus) on the page: format and naming rules.
TEST(NodeMetrics, PromtoolAcceptsThePage) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "promtool absent (apt-get install prometheus)";
  storage::StorageStats st;
  FlMetrics fl;
  std::string path = ::testing::TempDir() + "/fednode-metrics.txt";
  std::ofstream(path) << render_metrics(sample_node(st, fl));
  std::string cmd = "promtool check metrics < " + path + " > " + path + ".out 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream in(path + ".out");
  std::string report((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << report;
  EXPECT_EQ(report, "") << "promtool's lint found problems";
}

}  // namespace
}  // namespace fednode
