// minidl: train, evaluate and inspect models from the command line. Errors from the library
// become one line on stderr and exit code 1; usage errors exit with CLI11's code.
#include <fmt/format.h>

#include <exception>

#include "tools/minidl/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"minidl: a small deep-learning framework with reproducible dropout"};
  app.require_subcommand(1);
  minidl::cli::add_train_command(app);
  minidl::cli::add_eval_command(app);
  minidl::cli::add_rng_command(app);
  minidl::cli::add_bench_command(app);
  minidl::cli::add_sample_command(app);
  minidl::cli::add_profile_command(app);
  minidl::cli::add_lab_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "minidl: error: {} (see minidl --help)\n", e.what());
    return e.get_exit_code();
  } catch (const std::exception& e) {
    fmt::print(stderr, "minidl: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
