#include "common/flags.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/version.h"

ABSL_FLAG(std::string, config, "",
          "the config file (Sygnal's format); default: $SYGNAL_CONF, else ./sygnal.yaml");
ABSL_FLAG(std::string, ready_file, "",
          "once listening, write {\"port\": N, ...} here (for tests and tools)");

namespace herald {

std::string FlagSpelling(const std::string& arg) {
  if (arg == "-h") return "--help";
  if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) return arg;
  const size_t name_end = std::min(arg.find('='), arg.size());
  std::string name = arg.substr(2, name_end - 2);
  std::replace(name.begin(), name.end(), '-', '_');
  if (absl::FindCommandLineFlag(name) == nullptr) return arg;
  return absl::StrCat("--", name, arg.substr(name_end));
}

void ParseCommandLine(int argc, char** argv, absl::string_view usage) {
  absl::SetProgramUsageMessage(usage);
  // --help lists Herald's flags (Abseil's own stay under --helpfull).
  absl::FlagsUsageConfig help;
  help.contains_help_flags = [](absl::string_view file) {
    return !absl::StrContains(file, "absl/");
  };
  help.contains_helpshort_flags = help.contains_help_flags;
  // Abseil's own --version prints this and exits 0.
  const std::string program = argv[0];
  const std::string name = program.substr(program.rfind('/') + 1);
  help.version_string = [name] { return absl::StrCat(name, " ", kVersion, "\n"); };
  absl::SetFlagsUsageConfig(help);
  std::vector<std::string> args;
  args.reserve(argc);
  for (int i = 0; i < argc; ++i) args.push_back(i == 0 ? argv[i] : FlagSpelling(argv[i]));
  std::vector<char*> pointers;
  pointers.reserve(args.size());
  for (std::string& a : args) pointers.push_back(a.data());
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(pointers.size()), pointers.data());
  if (positional.size() > 1) {
    std::cerr << argv[0] << ": unexpected argument '" << positional[1] << "' (see --help)\n";
    std::exit(2);
  }
}

std::string ConfigFileFlag() {
  std::string path = absl::GetFlag(FLAGS_config);
  return path.empty() ? DefaultConfigFile() : path;
}

}  // namespace herald
