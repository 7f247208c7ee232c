#include "bridge/notify_answer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace herald::bridge {
namespace {

std::string RejectedBody(const herald::v1::DispatchResponse& response) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("rejected");
  w.StartArray();
  for (const std::string& key : response.rejected()) w.String(key.data(), key.size());
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

// Whole seconds, rounded up.
int64_t CeilSeconds(int64_t ms) { return ms / 1000 + (ms % 1000 != 0 ? 1 : 0); }

}  // namespace

std::string MatrixErrorBody(absl::string_view errcode, absl::string_view message) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("errcode");
  w.String(errcode.data(), errcode.size());
  w.Key("error");
  w.String(message.data(), message.size());
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

NotifyAnswer MatrixError(int status, absl::string_view errcode, absl::string_view message) {
  return {status, MatrixErrorBody(errcode, message), {}};
}

NotifyAnswer AnswerFor(const grpc::Status& status, const herald::v1::DispatchResponse* response) {
  if (!status.ok()) {
    switch (status.error_code()) {
      case grpc::StatusCode::UNAVAILABLE:
        return MatrixError(503, "M_UNKNOWN", "the push dispatcher is unavailable; try again later");
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        return MatrixError(504, "M_UNKNOWN",
                           "delivery did not finish before the deadline; try again later");
      case grpc::StatusCode::INVALID_ARGUMENT:
        return MatrixError(400, "M_BAD_JSON", status.error_message());
      default:
        return MatrixError(502, "M_UNKNOWN",
                           absl::StrCat("the push dispatcher failed: ", status.error_message()));
    }
  }
  int unfinished = 0, limited = 0;
  int64_t shed_wait_ms = 0;      // the longest wait a shed device was told
  int64_t provider_wait_ms = 0;  // the longest Retry-After a provider gave
  std::string first_detail;
  for (const herald::v1::DeviceOutcome& o : response->outcomes()) {
    switch (o.outcome()) {
      case herald::v1::OUTCOME_DELIVERED:
      case herald::v1::OUTCOME_REJECTED:
      case herald::v1::OUTCOME_SKIPPED:
      case herald::v1::OUTCOME_DROPPED:
        break;
      case herald::v1::OUTCOME_LIMITED:
        ++limited;
        shed_wait_ms = std::max(shed_wait_ms, o.retry_after_ms());
        break;
      default:
        if (unfinished++ == 0) first_detail = o.detail();
        if (o.outcome() == herald::v1::OUTCOME_RETRY) {
          provider_wait_ms = std::max(provider_wait_ms, o.retry_after_ms());
        }
    }
  }
  if (unfinished > 0) {
    NotifyAnswer a = MatrixError(
        502, "M_UNKNOWN",
        absl::StrCat(unfinished, " of ", response->outcomes_size(),
                     " device(s) could not be pushed (", first_detail, "); try again later"));
    // A provider that asked for a pause (a Retry-After the retries inside
    // the deadline could not wait out) has it passed on, for homeservers
    // that honour it.
    if (provider_wait_ms > 0) {
      a.headers.emplace_back("Retry-After", absl::StrCat(CeilSeconds(provider_wait_ms)));
    }
    return a;
  }
  if (limited > 0) {
    // Load shed: nothing went wrong, there was no room. Say when to come back.
    const int64_t seconds = std::max<int64_t>(1, CeilSeconds(shed_wait_ms));
    const std::string message =
        absl::StrCat(limited, " of ", response->outcomes_size(),
                     " device(s) were not pushed: too many pushes in flight");
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("errcode");
    w.String("M_LIMIT_EXCEEDED");
    w.Key("error");
    w.String(message.data(), message.size());
    w.Key("retry_after_ms");
    w.Int64(seconds * 1000);
    w.EndObject();
    return {
        429, std::string(buf.GetString(), buf.GetSize()), {{"Retry-After", absl::StrCat(seconds)}}};
  }
  return {200, RejectedBody(*response), {}};
}

}  // namespace herald::bridge
