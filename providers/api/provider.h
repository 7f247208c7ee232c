// The provider extension API: what a push provider implements (Provider),
// what it answers (Outcome), what it is given (PushRequest, ProviderEnv), and
// the registry that maps a config `type` to a factory. The dispatcher knows
// nothing else of providers; their shared helpers are in
// providers/common/push_helpers.h.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/executor.h"
#include "http/http_client.h"
#include "proto/herald/v1/herald.pb.h"

namespace herald::providers {

struct Outcome {
  enum class Kind {
    kDelivered,  // the provider took the push
    kRejected,   // the pushkey is dead: tell the homeserver
    kRetry,      // transient: try again (after retry_after if set)
    kFailed,     // permanent, not the pushkey's fault (credentials, config)
    kSkipped,    // deliberately not sent (nothing to show, not allowed)
    kLimited,    // not attempted: the app's in-flight limit is full (load shed)
    kDropped,    // this notification can never reach this device (payload too large or
                 // invalid); the pushkey is fine, so neither retried nor rejected
  };
  static constexpr int kKinds = static_cast<int>(Kind::kDropped) + 1;
  // Why, for gRPC callers (herald.v1.Reason, same order). Each constructor
  // below sets the usual reason of its kind; Because() names another.
  enum class Reason {
    kUnspecified,
    kPushed,
    kTokenDead,
    kUnroutable,
    kEndpointRefused,
    kPayloadRefused,
    kCredentialsRefused,
    kProviderUnavailable,
    kDeadline,
    kShed,
    kDuplicate,
    kNotSent,
    kInternal,
  };
  Kind kind = Kind::kFailed;
  std::string detail;  // human text for logs and gRPC callers; no secrets
  absl::Duration retry_after = absl::ZeroDuration();
  Reason reason = Reason::kUnspecified;

  static Outcome Delivered(std::string detail = "") {
    return {Kind::kDelivered, std::move(detail), absl::ZeroDuration(), Reason::kPushed};
  }
  static Outcome Rejected(std::string detail) {
    return {Kind::kRejected, std::move(detail), absl::ZeroDuration(), Reason::kTokenDead};
  }
  static Outcome Retry(std::string detail, absl::Duration after = absl::ZeroDuration()) {
    return {Kind::kRetry, std::move(detail), after, Reason::kProviderUnavailable};
  }
  static Outcome Failed(std::string detail) {
    return {Kind::kFailed, std::move(detail), absl::ZeroDuration(), Reason::kCredentialsRefused};
  }
  static Outcome Skipped(std::string detail) {
    return {Kind::kSkipped, std::move(detail), absl::ZeroDuration(), Reason::kNotSent};
  }
  static Outcome Limited(std::string detail, absl::Duration after) {
    return {Kind::kLimited, std::move(detail), after, Reason::kShed};
  }
  static Outcome Dropped(std::string detail) {
    return {Kind::kDropped, std::move(detail), absl::ZeroDuration(), Reason::kPayloadRefused};
  }
  Outcome Because(Reason why) && {
    reason = why;
    return std::move(*this);
  }
};

const char* OutcomeKindName(Outcome::Kind kind);

// One push: a notification to one of its devices.
struct PushRequest {
  const herald::v1::Notification* notification;  // outlives the push
  const herald::v1::Device* device;              // outlives the push
  std::string request_id;
  absl::Time deadline;  // the attempt must end by then (a Clock::Monotonic() reading)
  int attempt = 1;
};

class Provider {
 public:
  virtual ~Provider() = default;
  // Sends one push; `done` runs exactly once, on any thread, and must not
  // block. Never throws.
  virtual void Push(const PushRequest& request, std::function<void(Outcome)> done) = 0;
};

// What a provider may use, owned by the dispatcher.
struct ProviderEnv {
  // The shared client (one event loop, one connection pool).
  http::HttpClient* http = nullptr;
  // A client of the app's own (own loop thread and connection pool, e.g. a
  // bounded pool of HTTP/2 connections to APNs), owned by the dispatcher.
  // Null in unit tests that do not need it.
  std::function<http::HttpClient*(const http::HttpClientOptions&)> new_http_client;
  // The time pushes, tokens and deadlines are judged by.
  const Clock* clock = &Clock::Real();
  // The CONNECT proxy every client uses (Config::proxy at start-up; a reload
  // keeps it, so that the shared client and the apps' own never differ).
  std::string proxy;
};

// Builds a provider for one configured app. `map` is the app's mapping
// (`type` already read); read every key you know through it, so that the
// rest are warned about; report bad values with map.Fail().
using ProviderFactory = std::function<absl::StatusOr<std::unique_ptr<Provider>>(
    const std::string& app_id, ConfigMap& map, const ProviderEnv& env)>;

// A provider's own command line action: the provider defines a string flag
// (ABSL_FLAG) and registers it with the command; `herald-dispatcher --NAME
// APP_ID` then runs the command on the config file instead of the service and
// prints what it returns (Web Push's --print-vapid-public-key), so that the
// dispatcher knows no provider.
using ProviderCommand = std::function<absl::StatusOr<std::string>(const std::string& config_file,
                                                                  const std::string& app_id)>;

class ProviderRegistry {
 public:
  static void Register(const std::string& type, ProviderFactory factory);
  static const ProviderFactory* Find(const std::string& type);
  static std::vector<std::string> Types();

  static void RegisterCommand(const absl::Flag<std::string>* app_id_flag, ProviderCommand command);
  // After the command line is parsed: the first command whose flag was
  // given a non-empty APP_ID, with it; nullopt when none was.
  struct CommandCall {
    std::string name;  // the flag's
    std::string app_id;
    ProviderCommand command;
  };
  static std::optional<CommandCall> RequestedCommand();
};

// Registers a factory at static-initialization time; link the provider's
// library with alwayslink = 1.
struct ProviderRegistration {
  ProviderRegistration(const std::string& type, ProviderFactory factory) {
    ProviderRegistry::Register(type, std::move(factory));
  }
};
struct ProviderCommandRegistration {
  ProviderCommandRegistration(const absl::Flag<std::string>* app_id_flag, ProviderCommand command) {
    ProviderRegistry::RegisterCommand(app_id_flag, std::move(command));
  }
};

}  // namespace herald::providers
