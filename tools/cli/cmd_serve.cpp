// `cembed serve`: ScoreService (src/serve/score_service.h) over HTTP (cpp-httplib).
#include <fmt/format.h>
#include <httplib.h>
#include <pthread.h>

#include <csignal>
#include <thread>

#include "cembed/inference.h"
#include "commands.h"
#include "serve/score_service.h"
#include "util/check.h"

namespace cembed::cli {
namespace {

// The body of an error answer.
std::string error_body(const std::string& message) { return nlohmann::json{{"error", message}}.dump(); }

}  // namespace

void add_serve_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "answer score requests over HTTP with an exported model (.cem)");
  auto model = std::make_shared<std::string>();
  auto host = std::make_shared<std::string>("127.0.0.1");
  auto port = std::make_shared<int>(8080);
  auto max_body = std::make_shared<int64_t>(16 << 20);
  auto max_rows = std::make_shared<int64_t>(ScoreServiceConfig{}.max_rows_per_request);
  auto batch = std::make_shared<int64_t>(ScoreServiceConfig{}.max_batch_rows);
  auto workers = std::make_shared<int>(8);
  auto shared = std::make_shared<TrainOptions>();
  shared->config.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cmd->add_option("model", *model, "exported model (cembed export)")->required();
  cmd->add_option("--host", *host, "address to listen on")->capture_default_str();
  add_ranged(*cmd, "port", *port, {0, 65535}, "TCP port (0: any free port, printed)");
  add_ranged(*cmd, "max-body-bytes", *max_body, Range{1, 1073741824}, "largest request body (larger: 413)");
  add_ranged(*cmd, "max-rows", *max_rows, {1, 1e7}, "most rows in one request (more: 400)");
  add_ranged(*cmd, "batch-size", *batch, ranges::batch_size, "most rows scored at once across requests");
  add_ranged(*cmd, "workers", *workers, {1, 1024}, "HTTP connection threads (concurrent clients)");
  shared->add_only(*cmd, {"threads"});
  cmd->callback([=] {
    set_num_threads(shared->config.threads);
    const auto m = InferenceModel::open(*model);
    // SIGTERM and SIGINT are taken by one thread (sigwait), which stops the server: every
    // other thread, started below, inherits the blocked mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    ScoreService service(*m, {*max_rows, *batch});
    httplib::Server server;
    const int pool = *workers;
    server.new_task_queue = [pool] { return new httplib::ThreadPool(static_cast<size_t>(pool)); };
    server.set_payload_max_length(static_cast<size_t>(*max_body));
    // Answers go out at once: without it, Nagle's algorithm holds the body back until the
    // client's delayed ACK of the headers (40 ms a request).
    server.set_tcp_nodelay(true);
    server.Post("/score", [&](const httplib::Request& req, httplib::Response& res) {
      const ScoreService::Reply r = service.score(req.body);
      res.status = r.status;
      res.set_content(r.body, "application/json");
    });
    server.Get("/health", [&](const httplib::Request&, httplib::Response& res) {
      res.set_content(service.health(), "application/json");
    });
    server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
      res.set_content(service.metrics(), "application/json");
    });
    server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      const std::string what = res.status == 413 ? "request body too large"
                               : res.status == 404
                                   ? "no such endpoint: " + req.path + " (POST /score, GET /health, GET /metrics)"
                                   : "request refused";
      res.set_content(error_body(what), "application/json");
    });
    const int bound = *port == 0 ? server.bind_to_any_port(*host) : (server.bind_to_port(*host, *port) ? *port : -1);
    CEMBED_CHECK(bound > 0, "serve: cannot listen on {}:{} (in use, or not an address of this machine)", *host, *port);
    std::thread waiter([&] {
      int sig = 0;
      sigwait(&signals, &sig);
      server.stop();
    });
    fmt::print("listening on http://{}:{}\n", *host, bound);
    std::fflush(stdout);
    server.listen_after_bind();
    // Stopped: by a signal, or listen failed (then wake the waiter with our own signal).
    if (waiter.joinable()) {
      pthread_kill(waiter.native_handle(), SIGTERM);
      waiter.join();
    }
    service.stop();
    fmt::print("stopped after {}\n", service.metrics());
  });
}

}  // namespace cembed::cli
