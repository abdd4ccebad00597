// Stats arithmetic and merging; the text and JSON reports of hand-built runs whose figures are
// known exactly (latencies 1..1000 us: below 2^kPrecisionBits the histogram is exact, so every
// percentile is the true sample); empty runs without nan or inf; exit statuses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>

#include "report.h"
#include "stats.h"

namespace httpbench {
namespace {

using nlohmann::json;
using testing::HasSubstr;
using testing::Not;

constexpr const char* kUrl = "http://127.0.0.1:8080/";

// 1000 responses with latencies 1..1000 us (990 x 200, 10 x 404), 3 connect and 2 timeout
// errors, 2 MiB received in 2 s.
Report known_run() {
  Report r;
  r.options.urls = {kUrl};
  r.options.connections = 8;
  for (std::uint64_t us = 1; us <= 1000; ++us) r.stats.latency_us.record(us);
  r.stats.status[200] = 990;
  r.stats.status[404] = 10;
  r.stats.errors[static_cast<int>(ErrorClass::connect)] = 3;
  r.stats.errors[static_cast<int>(ErrorClass::timeout)] = 2;
  r.stats.bytes_received = 2 * 1024 * 1024;
  r.duration_s = 2.0;
  return r;
}

std::string text_of(const Report& r) {
  std::ostringstream out;
  print_report(out, r);
  return out.str();
}

// Every number in `j` is finite, and null appears only where `nullable` allows.
void expect_finite(const json& j, const std::string& where = "") {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (value.is_null()) {
        EXPECT_EQ(where + "/" + key, "/rate") << "null outside rate";
      } else {
        expect_finite(value, where + "/" + key);
      }
    }
  } else if (j.is_array()) {
    for (const auto& value : j) expect_finite(value, where + "[]");
  } else if (j.is_number()) {
    EXPECT_TRUE(std::isfinite(j.get<double>())) << where;
  }
}

void expect_no_nan_or_inf(const std::string& text) {
  for (const char* bad : {"nan", "NaN", "NAN", "inf", "Inf", "INF"}) {
    EXPECT_THAT(text, Not(HasSubstr(bad))) << text;
  }
}

TEST(Stats, ErrorClassNames) {
  EXPECT_EQ(error_class_name(ErrorClass::connect), "connect");
  EXPECT_EQ(error_class_name(ErrorClass::timeout), "timeout");
  EXPECT_EQ(error_class_name(ErrorClass::reset), "reset");
  EXPECT_EQ(error_class_name(ErrorClass::read), "read");
  EXPECT_EQ(error_class_name(ErrorClass::other), "other");
  EXPECT_THROW(error_class_name(static_cast<ErrorClass>(kErrorClasses)), std::invalid_argument);
}

TEST(Stats, CountsAddUp) {
  Stats s;
  EXPECT_EQ(s.requests(), 0u);
  EXPECT_EQ(s.failed(), 0u);
  s.status[200] = 5;
  s.status[301] = 1;
  s.status[399] = 1;  // below 400: not an error
  s.status[400] = 2;
  s.status[599] = 3;
  s.errors[static_cast<int>(ErrorClass::reset)] = 4;
  s.errors[static_cast<int>(ErrorClass::other)] = 1;
  EXPECT_EQ(s.responses(), 12u);
  EXPECT_EQ(s.http_errors(), 5u);
  EXPECT_EQ(s.transport_errors(), 5u);
  EXPECT_EQ(s.requests(), 17u);
  EXPECT_EQ(s.requests(), s.responses() + s.transport_errors());
  EXPECT_EQ(s.failed(), 10u);
}

TEST(Stats, MergeAddsEverything) {
  Stats a, b;
  a.latency_us.record(10);
  a.latency_us.record(20);
  a.status[200] = 2;
  a.errors[static_cast<int>(ErrorClass::connect)] = 1;
  a.bytes_received = 100;
  b.latency_us.record(5);
  b.status[200] = 1;
  b.status[503] = 1;
  b.latency_us.record(30);
  b.errors[static_cast<int>(ErrorClass::connect)] = 2;
  b.errors[static_cast<int>(ErrorClass::read)] = 1;
  b.bytes_received = 50;
  a.merge(b);
  EXPECT_EQ(a.latency_us.count(), 4u);
  EXPECT_EQ(a.latency_us.min(), 5u);
  EXPECT_EQ(a.latency_us.max(), 30u);
  EXPECT_EQ(a.status[200], 3u);
  EXPECT_EQ(a.status[503], 1u);
  EXPECT_EQ(a.errors[static_cast<int>(ErrorClass::connect)], 3u);
  EXPECT_EQ(a.errors[static_cast<int>(ErrorClass::read)], 1u);
  EXPECT_EQ(a.bytes_received, 150u);
  EXPECT_EQ(a.requests(), 8u);
  EXPECT_EQ(a.failed(), 5u);
  // Merging an empty shard changes nothing; the other shard is left alone.
  a.merge(Stats{});
  EXPECT_EQ(a.requests(), 8u);
  EXPECT_EQ(a.latency_us.min(), 5u);
  EXPECT_EQ(b.requests(), 5u);
}

TEST(Report, TextHasTheKnownFigures) {
  const std::string text = text_of(known_run());
  EXPECT_THAT(text, HasSubstr("URL:            http://127.0.0.1:8080/\n"));
  EXPECT_THAT(text, HasSubstr("Connections:    8\n"));
  EXPECT_THAT(text, HasSubstr("Requests:       1005 (990 succeeded, 15 failed)\n"));
  EXPECT_THAT(text, HasSubstr("Duration:       2.00 s\n"));
  EXPECT_THAT(text, HasSubstr("Requests/sec:   502.50\n"));
  EXPECT_THAT(text, HasSubstr("Transfer/sec:   1.00 MiB/s (2.00 MiB received)\n"));
  EXPECT_THAT(text, HasSubstr("Latency (1000 responses):\n"));
  EXPECT_THAT(text, HasSubstr("  min        1.00 us\n"));
  EXPECT_THAT(text, HasSubstr("  mean     500.50 us\n"));
  EXPECT_THAT(text, HasSubstr("  stdev    288.67 us\n"));  // sqrt((1000^2 - 1) / 12)
  EXPECT_THAT(text, HasSubstr("  max        1.00 ms\n"));
  EXPECT_THAT(text, HasSubstr("  p50      500.00 us\n"));
  EXPECT_THAT(text, HasSubstr("  p75      750.00 us\n"));
  EXPECT_THAT(text, HasSubstr("  p90      900.00 us\n"));
  EXPECT_THAT(text, HasSubstr("  p99      990.00 us\n"));
  EXPECT_THAT(text, HasSubstr("  p99.9    999.00 us\n"));
  EXPECT_THAT(text, HasSubstr("  p99.99     1.00 ms\n"));
  // Ten ranges of 100 us, 100 responses each: every bar full length.
  std::string full_bar;
  for (int i = 0; i < 40; ++i) full_bar += "■";
  EXPECT_THAT(text, HasSubstr("  0.10 ms  [100]  " + full_bar + "\n"));
  EXPECT_THAT(text, HasSubstr("  0.50 ms  [100]  " + full_bar + "\n"));
  EXPECT_THAT(text, HasSubstr("  1.00 ms  [100]  " + full_bar + "\n"));
  EXPECT_THAT(text, HasSubstr("  200            990  ( 99.00%)\n"));
  EXPECT_THAT(text, HasSubstr("  404             10  (  1.00%)\n"));
  EXPECT_LT(text.find("  200 "), text.find("  404 "));
  EXPECT_THAT(text, HasSubstr("Errors (15 of 1005 requests failed, 1.49%):\n"));
  EXPECT_THAT(text, HasSubstr("  HTTP status >= 400              10\n"));
  EXPECT_THAT(text, HasSubstr("  transport errors                 5\n"));
  EXPECT_THAT(text, HasSubstr("    connect                        3\n"));
  EXPECT_THAT(text, HasSubstr("    timeout                        2\n"));
  // Classes without errors are left out.
  EXPECT_THAT(text, Not(HasSubstr("reset")));
  EXPECT_THAT(text, Not(HasSubstr("Target rate")));
  expect_no_nan_or_inf(text);
}

TEST(Report, HistogramBarsScaleToTheFullest) {
  Report r;
  r.options.urls = {kUrl};
  r.duration_s = 1;
  // 1..10 us: ten ranges one value wide; value 10 recorded 4 times, the others once.
  for (std::uint64_t us = 1; us <= 10; ++us) r.stats.latency_us.record(us, us == 10 ? 4 : 1);
  r.stats.status[200] = 13;
  const std::string text = text_of(r);
  std::string full_bar, quarter_bar;
  for (int i = 0; i < 40; ++i) full_bar += "■";
  for (int i = 0; i < 10; ++i) quarter_bar += "■";
  EXPECT_THAT(text, HasSubstr("   1 us  [1]  " + quarter_bar + "\n"));
  EXPECT_THAT(text, HasSubstr("  10 us  [4]  " + full_bar + "\n"));
  EXPECT_THAT(text, HasSubstr("Errors: none\n"));
}

TEST(Report, UnitsFollowTheMagnitude) {
  Report r;
  r.options.urls = {kUrl, "http://127.0.0.1:8081/b"};
  r.options.rate = 1000;
  r.duration_s = 4;
  r.stats.latency_us.record(2'500'000);  // 2.5 s
  r.stats.status[200] = 1;
  r.stats.bytes_received = 512;
  const std::string text = text_of(r);
  EXPECT_THAT(text, HasSubstr("Latency (1 response):\n"));
  EXPECT_THAT(text, HasSubstr("  max        2.50 s\n"));
  EXPECT_THAT(text, HasSubstr("  stdev      0.00 us\n"));
  EXPECT_THAT(text, HasSubstr("  2.500 s  [1]  "));  // one value: the label stops at ms

  r.stats.latency_us.reset();
  r.stats.latency_us.record(999'999);  // 999.999 ms: shown as 1.00 s, not 1000.00 ms
  EXPECT_THAT(text_of(r), HasSubstr("  max        1.00 s\n"));
  EXPECT_THAT(text, HasSubstr("Transfer/sec:   128 B/s (512 B received)\n"));
  EXPECT_THAT(text, HasSubstr("URLs:           http://127.0.0.1:8080/\n"));
  EXPECT_THAT(text, HasSubstr("                http://127.0.0.1:8081/b\n"));
  EXPECT_THAT(text, HasSubstr("round-robin"));
  EXPECT_THAT(text, HasSubstr("Target rate:    1000.00 req/s"));
  EXPECT_THAT(text, HasSubstr("intended send time"));
}

TEST(Report, JsonHasTheSchemaAndTheKnownFigures) {
  Report r = known_run();
  r.options.urls.push_back("https://127.0.0.1:8443/x");
  const json j = report_json(r);
  ASSERT_TRUE(j.is_object());
  for (const char* key : {"requests", "responses", "errors", "transport_errors", "http_errors",
                          "bytes_received", "connections", "latency_saturated"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_TRUE(j[key].is_number_integer()) << key;
  }
  for (const char* key : {"duration_s", "rps", "bytes_per_s"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_TRUE(j[key].is_number()) << key;
  }
  EXPECT_EQ(j["requests"], 1005);
  EXPECT_EQ(j["responses"], 1000);
  EXPECT_EQ(j["errors"], 15);
  EXPECT_EQ(j["transport_errors"], 5);
  EXPECT_EQ(j["http_errors"], 10);
  EXPECT_EQ(j["requests"].get<std::uint64_t>(),
            j["responses"].get<std::uint64_t>() + j["transport_errors"].get<std::uint64_t>());
  EXPECT_EQ(j["errors"].get<std::uint64_t>(),
            j["transport_errors"].get<std::uint64_t>() + j["http_errors"].get<std::uint64_t>());
  EXPECT_DOUBLE_EQ(j["duration_s"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(j["rps"].get<double>(), 502.5);
  EXPECT_EQ(j["bytes_received"], 2 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(j["bytes_per_s"].get<double>(), 1024 * 1024);

  ASSERT_TRUE(j["status_codes"].is_object());
  EXPECT_EQ(j["status_codes"], (json{{"200", 990}, {"404", 10}}));

  ASSERT_TRUE(j["errors_by_class"].is_object());
  EXPECT_EQ(j["errors_by_class"],
            (json{{"connect", 3}, {"timeout", 2}, {"reset", 0}, {"read", 0}, {"other", 0}}));

  const json& latency = j["latency_us"];
  ASSERT_TRUE(latency.is_object());
  const std::pair<const char*, std::uint64_t> exact[] = {
      {"min", 1},   {"max", 1000}, {"p50", 500},  {"p75", 750},
      {"p90", 900}, {"p99", 990},  {"p999", 999}, {"p9999", 1000}};
  for (const auto& [key, value] : exact) {
    ASSERT_TRUE(latency.contains(key)) << key;
    EXPECT_TRUE(latency[key].is_number_integer()) << key;
    EXPECT_EQ(latency[key].get<std::uint64_t>(), value) << key;
  }
  EXPECT_DOUBLE_EQ(latency["mean"].get<double>(), 500.5);
  EXPECT_NEAR(latency["stdev"].get<double>(), std::sqrt((1000.0 * 1000.0 - 1) / 12), 1e-9);

  ASSERT_TRUE(j["latency_histogram_us"].is_array());
  EXPECT_EQ(j["latency_histogram_us"].size(), 10u);
  EXPECT_EQ(j["latency_histogram_us"][0], (json{{"from", 1}, {"to", 100}, {"count", 100}}));
  std::uint64_t histogram_total = 0;
  for (const auto& bar : j["latency_histogram_us"])
    histogram_total += bar["count"].get<std::uint64_t>();
  EXPECT_EQ(histogram_total, 1000u);

  EXPECT_EQ(j["connections"], 8);
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["urls"], (json{kUrl, "https://127.0.0.1:8443/x"}));
  EXPECT_TRUE(j["rate"].is_null());
  expect_finite(j);

  r.options.rate = 250;
  EXPECT_EQ(report_json(r)["rate"], 250.0);
}

TEST(Report, EmptyRunHasNoNanOrInf) {
  Report r;
  r.options.urls = {kUrl};
  for (double duration : {0.0, -1.0, std::nan(""), double{INFINITY}}) {
    r.duration_s = duration;
    const std::string text = text_of(r);
    expect_no_nan_or_inf(text);
    EXPECT_THAT(text, HasSubstr("Requests:       0 (0 succeeded, 0 failed)\n"));
    EXPECT_THAT(text, HasSubstr("Duration:       0.00 s\n"));
    EXPECT_THAT(text, HasSubstr("Requests/sec:   0.00\n"));
    EXPECT_THAT(text, HasSubstr("no response arrived"));
    EXPECT_THAT(text, HasSubstr("Errors: none\n"));
    const json j = report_json(r);
    expect_finite(j);
    EXPECT_EQ(j["requests"], 0);
    EXPECT_EQ(j["duration_s"], 0.0);
    EXPECT_EQ(j["rps"], 0.0);
    EXPECT_EQ(j["bytes_per_s"], 0.0);
    EXPECT_EQ(j["status_codes"], json::object());
    EXPECT_EQ(j["latency_us"]["p99"], 0);
    EXPECT_EQ(j["latency_us"]["mean"], 0.0);
    EXPECT_EQ(j["latency_histogram_us"], json::array());
  }
}

TEST(Report, AllTransportErrorsInZeroTime) {
  Report r;
  r.options.urls = {kUrl};
  r.stats.errors[static_cast<int>(ErrorClass::connect)] = 4;
  const std::string text = text_of(r);
  expect_no_nan_or_inf(text);
  EXPECT_THAT(text, HasSubstr("Requests:       4 (0 succeeded, 4 failed)\n"));
  EXPECT_THAT(text, HasSubstr("Errors (4 of 4 requests failed, 100.00%):\n"));
  EXPECT_THAT(text, HasSubstr("  HTTP status >= 400               0\n"));
  EXPECT_THAT(text, HasSubstr("    connect                        4\n"));
  EXPECT_THAT(text, HasSubstr("Status codes: none"));
  const json j = report_json(r);
  expect_finite(j);
  EXPECT_EQ(j["requests"], 4);
  EXPECT_EQ(j["errors"], 4);
  EXPECT_EQ(j["responses"], 0);
  EXPECT_EQ(j["errors_by_class"]["connect"], 4);
}

TEST(Report, ExitStatus) {
  Report r;
  EXPECT_EQ(exit_status(r), 1) << "nothing completed is no success";
  r.stats.status[200] = 10;
  r.stats.status[302] = 1;
  EXPECT_EQ(exit_status(r), 0);
  r.stats.status[500] = 1;
  EXPECT_EQ(exit_status(r), 1) << "a status >= 400 is a failure";
  r.stats.status[500] = 0;
  r.stats.errors[static_cast<int>(ErrorClass::timeout)] = 1;
  EXPECT_EQ(exit_status(r), 1) << "a transport error is a failure";
  EXPECT_EQ(exit_status(known_run()), 1);
}

}  // namespace
}  // namespace httpbench
