// The command line of both binaries, on Abseil flags. A '-' inside a flag's
// name is read as '_', so the documented spellings (--ready-file,
// --check-config, --print-vapid-public-key) are the flags --ready_file, ...;
// -h is --help.
#pragma once

#include <string>

#include "absl/flags/declare.h"
#include "absl/strings/string_view.h"

// The config file; empty: $SYGNAL_CONF, else ./sygnal.yaml.
ABSL_DECLARE_FLAG(std::string, config);
// Once listening, {"port": N, ...} is written here (tests and tools wait
// for it).
ABSL_DECLARE_FLAG(std::string, ready_file);

namespace herald {

// Parses the command line into the flags, with `usage` shown by --help.
// Exits at once, as Abseil does, on --help and on an unknown flag or a bad
// value (1), on an argument that is not a flag (2), and after printing
// "PROGRAM VERSION" on --version (0).
void ParseCommandLine(int argc, char** argv, absl::string_view usage);

// One argument as Abseil is given it: "--ready-file=x" → "--ready_file=x"
// when ready_file is a flag (only a flag's name is rewritten, never a value:
// a config path "--my-conf.yaml" after --config stays as it is); "-h" →
// "--help"; anything else unchanged.
std::string FlagSpelling(const std::string& arg);

// --config, else $SYGNAL_CONF, else ./sygnal.yaml.
std::string ConfigFileFlag();

}  // namespace herald
