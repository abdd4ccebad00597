// crawler: a concurrent web crawler (the Go tour's "Web Crawler", done for real) in which every
// worker fiber drives its own libcurl easy handle with the plain, blocking curl_easy_perform.
// Try it:
//
//   crawler https://example.com/                      # depth 2, 16 workers, at most 100 pages
//   crawler -c 64 --depth 3 --max-pages 500 http://127.0.0.1:8080/
//   crawler --selftest                                # crawls a site it serves itself
//
// Why blocking curl is fine here: inside a fiber, gocxx's syscall hooks (docs/blocking.md) turn
// the connect/poll/recv that curl_easy_perform makes into parks of that fiber. N transfers in
// flight cost N fiber stacks, not N threads, and no curl_multi state machine is needed.
//
// Structure:
//  * N worker fibers each own one easy handle for the whole crawl (so connections are kept
//    alive across fetches), take Jobs from an unbuffered channel and send back Results.
//  * One coordinator fiber owns all the crawl's state: the set of URLs seen, the frontier (URLs
//    waiting for a worker) and the counters. Since nothing else touches them they need no lock,
//    and the end is easy to detect: the frontier is empty and no job is in flight. (A go::Mutex-
//    guarded set that workers update themselves would also need a count of outstanding work to
//    know when to stop, and would spread the depth and page-limit rules over every worker.)
//  * A link is followed if it is http(s), on the host of a seed (any port), at most --depth
//    links away from a seed, not seen before (fragments dropped) and --max-pages is not reached.
//    libcurl follows redirects; the URL a redirect ends at counts as seen too.
//  * SIGINT/SIGTERM only set a flag. The coordinator notices it within 50 ms and hands out no
//    more jobs; a transfer in flight notices it in its progress callback (which libcurl calls
//    about once a second even when no data moves) and aborts. The summary is printed and the
//    exit status is 128 + the signal: 130 for SIGINT, 143 for SIGTERM.
#include <curl/curl.h>
#include <go/go.h>
#include <go/net.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Set by the handler, read by the coordinator and by every transfer's progress callback. A
// lock-free atomic is async-signal-safe.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);
extern "C" void on_signal(int sig) {
  g_signal.store(sig);
}

constexpr std::size_t kBodyKept = 2 << 20;  // bytes of a page kept to find links in; rest counted

struct Url {
  std::string text;  // normalized, without fragment: the key of the seen set
  std::string host;  // lower case
};

struct Options {
  int concurrency = 16, depth = 2, max_pages = 100, procs = 0;
  double timeout_s = 10;
  std::vector<Url> seeds;
  enum class Selftest { none, crawl, interrupt } selftest = Selftest::none;
};

void usage(std::FILE* to) {
  std::fprintf(
      to,
      "usage: crawler [options] URL...\n"
      "Fetches URL... and the pages they link to on the same hosts, many at a time.\n"
      "  -c, --concurrency N   worker fibers, one curl handle each (default 16)\n"
      "  --depth D             follow links at most D hops from a seed (default 2; 0: seeds)\n"
      "  --max-pages N         fetch at most N pages in all (default 100)\n"
      "  --timeout SECONDS     limit per page, redirects included (default 10)\n"
      "  --procs N             Ps running fibers (default: GOCXX_PROCS or every core)\n"
      "  --selftest            crawl a site served in-process on 127.0.0.1 and check the result\n"
      "  --selftest-interrupt  interrupt such a crawl with SIGINT and check that it stops cleanly\n"
      "Prints a line per page (HTTP status or ERR, bytes, ms, depth, URL), then a summary.\n"
      "Exit status: 0 every page had status < 400, 1 some failed, 2 bad usage,\n"
      "130/143 stopped by SIGINT/SIGTERM (in-flight transfers are aborted).\n");
}

// Resolves `ref` against `base` ("": ref must be absolute) with libcurl's URL API, which does
// RFC 3986's work: relative, root-relative and scheme-relative references, "." and "..".
// Drops the fragment. nullopt unless the result is an http or https URL.
std::optional<Url> resolve(const std::string& base, const std::string& ref) {
  const std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), curl_url_cleanup);
  if (!u) throw std::bad_alloc();
  auto get = [&](CURLUPart part) {
    char* s = nullptr;
    if (curl_url_get(u.get(), part, &s, 0) != CURLUE_OK) return std::string();
    std::string out(s);
    curl_free(s);
    return out;
  };
  if (!base.empty() && curl_url_set(u.get(), CURLUPART_URL, base.c_str(), 0) != CURLUE_OK)
    return std::nullopt;
  if (curl_url_set(u.get(), CURLUPART_URL, ref.c_str(), 0) != CURLUE_OK) return std::nullopt;
  const std::string scheme = get(CURLUPART_SCHEME);
  if (scheme != "http" && scheme != "https") return std::nullopt;
  Url url{{}, get(CURLUPART_HOST)};
  if (url.host.empty()) return std::nullopt;
  for (char& c : url.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  curl_url_set(u.get(), CURLUPART_HOST, url.host.c_str(), 0);
  curl_url_set(u.get(), CURLUPART_FRAGMENT, nullptr, 0);
  url.text = get(CURLUPART_URL);
  return url;
}

// The values of the href attributes in an HTML page: quoted with " or ', or unquoted.
std::vector<std::string> extract_hrefs(std::string_view html) {
  auto same = [](char a, char b) { return std::tolower(a & 0xff) == std::tolower(b & 0xff); };
  const std::string_view attr = "href";
  std::vector<std::string> out;
  auto at = html.begin();
  while ((at = std::search(at, html.end(), attr.begin(), attr.end(), same)) != html.end()) {
    std::size_t i = static_cast<std::size_t>(at - html.begin()) + attr.size();
    auto skip_space = [&] {
      while (i < html.size() && std::isspace(static_cast<unsigned char>(html[i]))) ++i;
    };
    skip_space();
    if (i < html.size() && html[i] == '=') {
      ++i;
      skip_space();
      const char quote = i < html.size() ? html[i] : '\0';
      const bool quoted = quote == '"' || quote == '\'';
      if (quoted) ++i;
      const std::size_t end = quoted ? html.find(quote, i) : html.find_first_of(" \t\r\n>", i);
      if (end == std::string_view::npos) break;
      std::string href(html.substr(i, end - i));
      for (std::size_t amp; (amp = href.find("&amp;")) != std::string::npos;)
        href.erase(amp + 1, 4);  // the one entity common in URLs
      out.push_back(std::move(href));
      i = end;
    }
    at = html.begin() + static_cast<std::ptrdiff_t>(i);
  }
  return out;
}

struct Job {
  std::string url;
  int depth = 0;  // links from a seed
};

struct Result {
  Job job;
  std::string final_url;  // where redirects ended
  long status = 0;        // HTTP status; 0 if the transfer failed
  std::string error;      // libcurl's message if the transfer failed
  bool aborted = false;   // stopped by a signal
  std::size_t bytes = 0;  // body bytes received, kept or not
  double ms = 0;
  std::vector<std::string> hrefs;  // of a 2xx HTML page
};

// One worker's easy handle, reused for every fetch so that connections stay open. Only its
// fiber touches it (a fiber may move between threads: that is fine for a curl handle, which
// must only not be used by two threads at once).
class Fetcher {
 public:
  explicit Fetcher(double timeout_s) : h_(curl_easy_init()) {
    if (h_ == nullptr) throw std::runtime_error("curl_easy_init failed");
    const long timeout_ms = static_cast<long>(timeout_s * 1000);
    curl_easy_setopt(h_, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM: signals are the process's
    curl_easy_setopt(h_, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h_, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h_, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h_, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h_, CURLOPT_ACCEPT_ENCODING, "");  // whatever this libcurl can decode
    curl_easy_setopt(h_, CURLOPT_USERAGENT, "gocxx-crawler/0.1");
    curl_easy_setopt(h_, CURLOPT_ERRORBUFFER, errbuf_);
    curl_easy_setopt(h_, CURLOPT_WRITEFUNCTION, &Fetcher::on_body);
    curl_easy_setopt(h_, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(h_, CURLOPT_NOPROGRESS, 0L);  // else the progress callback is never called
    curl_easy_setopt(h_, CURLOPT_XFERINFOFUNCTION, &Fetcher::on_progress);
  }
  ~Fetcher() { curl_easy_cleanup(h_); }
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  Result fetch(Job job) {
    Result r;
    r.job = std::move(job);
    r.final_url = r.job.url;
    body_.clear();
    bytes_ = 0;
    errbuf_[0] = '\0';
    curl_easy_setopt(h_, CURLOPT_URL, r.job.url.c_str());
    const auto start = Clock::now();
    const CURLcode rc = curl_easy_perform(h_);  // parks this fiber, not its thread
    r.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    r.bytes = bytes_;
    if (char* url = nullptr; curl_easy_getinfo(h_, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url)
      r.final_url = url;
    if (rc != CURLE_OK) {
      r.aborted = rc == CURLE_ABORTED_BY_CALLBACK;
      r.error = r.aborted            ? "aborted: stopping"
                : errbuf_[0] != '\0' ? errbuf_
                                     : curl_easy_strerror(rc);
      return r;
    }
    curl_easy_getinfo(h_, CURLINFO_RESPONSE_CODE, &r.status);
    char* type = nullptr;
    curl_easy_getinfo(h_, CURLINFO_CONTENT_TYPE, &type);
    if (r.status / 100 == 2 && (type == nullptr || std::strstr(type, "html") != nullptr))
      r.hrefs = extract_hrefs(body_);
    return r;
  }

 private:
  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self) {
    Fetcher& f = *static_cast<Fetcher*>(self);
    f.body_.append(data, std::min(size * n, kBodyKept - f.body_.size()));
    f.bytes_ += size * n;
    return size * n;
  }
  static int on_progress(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return g_signal.load() != 0 ? 1 : 0;  // non-zero aborts: CURLE_ABORTED_BY_CALLBACK
  }

  CURL* h_;
  std::string body_;       // the first kBodyKept bytes of the current page
  std::size_t bytes_ = 0;  // all of its bytes
  char errbuf_[CURL_ERROR_SIZE] = {};
};

struct Summary {
  int pages = 0, failed = 0, aborted = 0, unfetched = 0, signal = 0;
  std::size_t bytes = 0;
  double seconds = 0;
  std::vector<Result> results;  // every fetch, without its hrefs (the selftests check them)
};

// The coordinator: runs a whole crawl from o.seeds and prints it. Call from a fiber.
Summary crawl(const Options& o) {
  const auto start = Clock::now();
  std::set<std::string> hosts;
  std::unordered_set<std::string> seen;
  std::deque<Job> frontier;
  int admitted = 0;  // URLs ever put in the frontier: at most o.max_pages
  auto admit = [&](const Url& u, int depth) {
    if (admitted < o.max_pages && seen.insert(u.text).second) {
      ++admitted;
      frontier.push_back({u.text, depth});
    }
  };
  for (const Url& seed : o.seeds) {
    hosts.insert(seed.host);
    admit(seed, 0);
  }

  go::Channel<Job> jobs;  // unbuffered: a job leaves the frontier only when a worker takes it
  go::Channel<Result> results(static_cast<std::size_t>(o.concurrency));
  go::WaitGroup workers;
  workers.add(o.concurrency);
  for (int i = 0; i < o.concurrency; ++i) {
    go([&o, &workers, jobs, results]() mutable {
      {
        Fetcher fetcher(o.timeout_s);
        for (Job job : jobs) results.send(fetcher.fetch(std::move(job)));
      }  // the handle is cleaned up (its connections closed) before the coordinator goes on
      workers.done();
    });
  }

  Summary s;
  int in_flight = 0;
  auto on_result = [&](std::optional<Result> got) {
    Result& r = *got;  // `results` is never closed
    --in_flight;
    if (auto final_url = resolve("", r.final_url)) seen.insert(final_url->text);
    char code[8] = "ERR";
    if (r.error.empty()) std::snprintf(code, sizeof code, "%ld", r.status);
    std::printf("%-3s %9zu B %6.0f ms  d%d  %s%s%s\n", code, r.bytes, r.ms, r.job.depth,
                r.job.url.c_str(), r.error.empty() ? "" : "  -- ", r.error.c_str());
    s.aborted += r.aborted ? 1 : 0;
    s.pages += r.aborted ? 0 : 1;
    s.failed += !r.aborted && (!r.error.empty() || r.status >= 400) ? 1 : 0;
    s.bytes += r.bytes;
    if (r.job.depth < o.depth && g_signal.load() == 0) {
      for (const std::string& href : r.hrefs) {
        const auto link = resolve(r.final_url, href);
        if (link && hosts.count(link->host) != 0) admit(*link, r.job.depth + 1);
      }
    }
    r.hrefs.clear();
    s.results.push_back(std::move(r));
  };
  auto on_taken = [&] {
    frontier.pop_front();
    ++in_flight;
  };
  // Each round waits for a worker to take the next job or for a result, and at most 50 ms: how
  // long a signal may go unnoticed. After a signal only the jobs in flight are waited for.
  while (in_flight > 0 || (!frontier.empty() && g_signal.load() == 0)) {
    if (frontier.empty() || g_signal.load() != 0) {
      go::select(go::on_recv(results, on_result), go::on_timeout(50ms, [] {}));
    } else {
      go::select(go::on_send(jobs, frontier.front(), on_taken), go::on_recv(results, on_result),
                 go::on_timeout(50ms, [] {}));
    }
  }
  jobs.close();  // the workers' loops end
  workers.wait();

  s.signal = g_signal.load();
  s.unfetched = static_cast<int>(frontier.size());
  s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("crawler: %d pages, %d failed, %zu bytes in %.2f s (%.1f pages/s)", s.pages, s.failed,
              s.bytes, s.seconds, s.pages / std::max(s.seconds, 1e-9));
  if (s.signal != 0)
    std::printf("; stopped by %s: %d transfers aborted, %d queued URLs not fetched",
                s.signal == SIGINT ? "SIGINT" : "SIGTERM", s.aborted, s.unfetched);
  std::printf("\n");
  std::fflush(stdout);
  return s;
}

// The selftests' web site, served on 127.0.0.1:0, one fiber per connection. Pages form a tree:
// "/" and "/a/", "/a/b/", "/a/b/c/" with digits 0..5. A page links to its six children, each in
// another form (relative, "./" with a fragment, root-relative, absolute, scheme-relative, "../"),
// and to pages that are nothing new: "/", "../", "#top", child 0 again (unquoted, in capitals,
// with a fragment), a mailto:, a page on another host name (localhost) and, from "/", a 404. Each
// answer waits 50 ms, so that concurrency shows in the crawl's time. A page is linked only from its
// parent (every other link goes up), so the depth at which the crawl meets it is its depth in the
// tree whatever order the fetches finish in.
struct TestSite : std::enable_shared_from_this<TestSite> {
  go::net::Listener ln;
  std::string base;                 // "http://127.0.0.1:port"
  int stall_after = 1 << 30;        // later requests wait 60 s (stuck transfers)
  std::atomic<int> requests{0};     // all of them
  std::atomic<int> foreign{0};      // those whose Host is not this site's
  go::Mutex mu;                     // guards hits
  std::map<std::string, int> hits;  // requests per path

  void start() {
    ln = go::net::listen("127.0.0.1:0");
    base = "http://" + ln.address();
    go([self = shared_from_this()] {
      try {
        for (;;) go([self, c = self->ln.accept()]() mutable { self->serve(std::move(c)); });
      } catch (const go::net::Error&) {
        // ln was closed: the test is over
      }
    });
  }

  // Serves one keep-alive connection (GET without a body is all a crawler sends).
  void serve(go::net::Conn c) {
    std::string in;
    std::byte buf[4096];
    try {
      for (;;) {
        std::size_t end;
        while ((end = in.find("\r\n\r\n")) == std::string::npos) {
          const std::size_t n = c.read(buf);
          if (n == 0 || in.size() > 65536) return;
          in.append(reinterpret_cast<const char*>(buf), n);
        }
        const std::string head = in.substr(0, end + 2);
        in.erase(0, end + 4);
        const std::size_t sp = head.find(' ');
        const std::string path = head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);
        foreign += head.find("\r\nHost: " + base.substr(7) + "\r\n") == std::string::npos;
        {
          std::lock_guard lk(mu);
          ++hits[path];
        }
        go::this_fiber::sleep_for(++requests > stall_after ? 60s : 50ms);
        const std::string body = page(path);
        std::string out = body.empty() ? "HTTP/1.1 404 Not Found\r\n" : "HTTP/1.1 200 OK\r\n";
        out += "Content-Type: text/html\r\nContent-Length: " + std::to_string(body.size());
        out += "\r\n\r\n" + body;
        c.write(std::as_bytes(std::span(out)));
      }
    } catch (const go::net::Error&) {
      // The crawler closed the connection (an aborted transfer): nothing to answer.
    }
  }

  // The page at `path`, or "" if there is none.
  std::string page(const std::string& path) const {
    std::string digits;
    for (std::size_t i = 1; i < path.size(); i += 2) {
      if (path[i] < '0' || path[i] > '5' || i + 1 >= path.size() || path[i + 1] != '/') return "";
      digits += path[i];
    }
    if (path.empty() || path[0] != '/' || digits.size() > 3) return "";
    const std::string port = base.substr(base.rfind(':') + 1);
    std::string html =
        "<html><body><a href=\"#top\">top</a> <a href=\"/\">home</a>\n"
        "<a href='../'>up</a> <a href=\"mailto:crawler@example.com\">mail</a>\n"
        "<a href=\"http://localhost:" +
        port + "/elsewhere\">another host</a>\n";
    if (digits.empty()) html += "<a href=\"/missing\">a 404</a>\n";
    if (digits.size() < 3) html += "<A HREF = 0/#again>child 0 again</A>\n";
    for (char c = '0'; digits.size() < 3 && c <= '5'; ++c) {
      const std::string child = path + c + '/';
      const std::string hrefs[] = {std::string("\"") + c + "/\"",
                                   std::string("'./") + c + "/#part'",
                                   '"' + child + '"',
                                   "\"" + base + child + '"',
                                   "\"//" + base.substr(7) + child + '"',
                                   digits.empty()
                                       ? std::string("\"5/\"")
                                       : std::string("\"../") + digits.back() + '/' + c + "/\""};
      html += "<a href=" + hrefs[c - '0'] + ">child</a>\n";
    }
    return html + "</body></html>\n";
  }
};

// Crawls the test site (twice: without and with a page limit) and checks what happened.
// Returns the exit status.
int selftest(Options o) {
  const auto site = std::make_shared<TestSite>();
  int failures = 0;
  auto check = [&](bool ok, const std::string& what) {
    std::printf("crawler: selftest: %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    failures += ok ? 0 : 1;
  };
  if (o.selftest == Options::Selftest::crawl) {
    site->start();
    o.seeds = {*resolve("", site->base + "/")};
    o.depth = 2;
    o.max_pages = 1000;
    const Summary s = crawl(o);
    // 44 paths requested once each, all pages of depth <= 2 ("/a/b/" at most): as there are
    // 43 of those, with "/missing" that is every one of them and nothing else.
    bool once = true, depths = true;
    {
      std::lock_guard lk(site->mu);
      once = site->hits.size() == 44 && site->hits.count("/missing") == 1;
      for (const auto& [path, n] : site->hits)
        once = once && n == 1 &&
               (path == "/missing" || (path.size() <= 5 && !site->page(path).empty()));
    }
    for (const Result& r : s.results) {
      const std::string path = r.job.url.substr(site->base.size());
      const int want = path == "/missing" ? 1 : static_cast<int>(path.size() / 2);
      depths = depths && r.job.depth == want && r.job.depth <= o.depth;
    }
    check(s.signal == 0 && s.pages == 44 && s.results.size() == 44, "44 pages fetched (43 + 404)");
    check(once && site->requests.load() == 44,
          "every page at depth <= 2 requested exactly once, nothing else requested");
    check(depths, "each page met at its depth in the tree, none deeper than --depth 2");
    check(s.failed == 1, "the 404 counted as the only failure");
    check(site->foreign.load() == 0, "the page on another host never requested");
    check(s.seconds < 44 * 0.050 / 2,
          "crawl took " + std::to_string(s.seconds) + " s, less than half the serial 2.2 s");
    o.max_pages = 10;
    const Summary limited = crawl(o);
    check(limited.pages == 10 && site->requests.load() == 54, "--max-pages 10 fetched 10 pages");
  } else {
    // Three answers, then every request hangs for 60 s with a 300 s timeout: only the abort can
    // end a transfer in flight. Once 7 requests arrived (3 answered, then one stuck per worker)
    // nothing can move, and SIGINT comes as Ctrl-C would send it.
    site->stall_after = 3;
    site->start();
    o.seeds = {*resolve("", site->base + "/")};
    o.concurrency = 4;
    o.timeout_s = 300;
    std::atomic<Clock::rep> raised_at{0};
    go([&raised_at, site] {
      const auto give_up = Clock::now() + 30s;
      while (site->requests.load() < 7 && Clock::now() < give_up) go::this_fiber::sleep_for(5ms);
      raised_at.store(Clock::now().time_since_epoch().count());
      std::raise(SIGINT);
    });
    const Summary s = crawl(o);
    const double stop_s = std::chrono::duration<double>(Clock::now().time_since_epoch() -
                                                        Clock::duration(raised_at.load()))
                              .count();
    check(s.signal == SIGINT, "the crawl saw SIGINT");
    check(s.pages == 3 && s.aborted == 4, "3 pages fetched, the 4 stuck transfers aborted");
    check(site->requests.load() == 7, "no fetch started after the signal");
    check(s.unfetched > 0, std::to_string(s.unfetched) + " queued URLs left unfetched");
    check(stop_s < 10, "stopped " + std::to_string(stop_s) + " s after the signal (< 10 s)");
  }
  site->ln.close();  // hanging answers are unwound when go::run returns
  if (failures > 0) std::printf("crawler: selftest: %d checks failed\n", failures);
  return failures == 0 ? 0 : 1;
}

// Parses argv; exits 2 with a one-line message on anything wrong.
Options parse(int argc, char** argv) {
  Options o;
  auto fail = [](const std::string& msg) {
    std::fprintf(stderr, "crawler: %s (try --help)\n", msg.c_str());
    std::exit(2);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const std::size_t eq = arg.starts_with("--") ? arg.find('=') : std::string::npos;
    const std::string flag = arg.substr(0, eq);
    auto value = [&]() -> std::string {
      if (eq != std::string::npos) return arg.substr(eq + 1);
      if (i + 1 >= argc) fail(flag + " needs a value");
      return argv[++i];
    };
    auto number = [&](auto& out, auto lo, auto hi) {
      const std::string v = value();
      auto n = out;
      const auto res = std::from_chars(v.data(), v.data() + v.size(), n);
      if (res.ec != std::errc() || res.ptr != v.data() + v.size() || !(n >= lo && n <= hi)) {
        char range[64];
        if constexpr (std::is_floating_point_v<decltype(n)>)
          std::snprintf(range, sizeof range, "a number from %g to %g", lo, hi);
        else
          std::snprintf(range, sizeof range, "a whole number from %d to %d", lo, hi);
        fail(flag + " wants " + range + ", not \"" + v + "\"");
      }
      out = n;
    };
    if (flag == "--help" || flag == "-h") {
      usage(stdout);
      std::exit(0);
    } else if (flag == "--concurrency" || flag == "-c") {
      number(o.concurrency, 1, 10000);
    } else if (flag == "--depth") {
      number(o.depth, 0, 1000);
    } else if (flag == "--max-pages") {
      number(o.max_pages, 1, 100'000'000);
    } else if (flag == "--timeout") {
      number(o.timeout_s, 0.001, 86400.0);
    } else if (flag == "--procs") {
      number(o.procs, 1, 1024);
    } else if (flag == "--selftest" || flag == "--selftest-interrupt") {
      if (eq != std::string::npos) fail(flag + " takes no value");
      o.selftest = flag == "--selftest" ? Options::Selftest::crawl : Options::Selftest::interrupt;
    } else if (arg.starts_with("-")) {
      fail("unknown option \"" + arg + "\"");
    } else if (auto url = resolve("", arg)) {
      o.seeds.push_back(*url);
    } else {
      fail("not an http or https URL: \"" + arg + "\"");
    }
  }
  if (o.selftest == Options::Selftest::none && o.seeds.empty()) fail("no URL to start from");
  if (o.selftest != Options::Selftest::none && !o.seeds.empty())
    fail("a selftest crawls its own site: give no URL");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  // Once, before any other libcurl call and before any thread exists (it is not thread-safe).
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    std::fprintf(stderr, "crawler: curl_global_init failed\n");
    return 1;
  }
  const Options o = parse(argc, argv);

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;  // a write to stdout that the signal interrupts is restarted
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  go::Config cfg;
  cfg.procs = o.procs;
  int status = 0;
  go::run(
      [&] {
        if (o.selftest != Options::Selftest::none) {
          status = selftest(o);
          return;
        }
        const Summary s = crawl(o);
        status = s.signal != 0 ? 128 + s.signal : s.failed > 0 ? 1 : 0;
      },
      cfg);
  curl_global_cleanup();
  return status;
}
