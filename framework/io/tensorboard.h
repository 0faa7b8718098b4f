// TensorBoardWriter: scalars in a TensorBoard event file, encoded by hand (no protobuf library).
// The file is a sequence of TFRecords, each an Event message in protobuf's wire format:
//   record: u64 length (little-endian), masked CRC32C of those 8 bytes, the Event, masked CRC32C
//           of the Event; masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8.
//   Event:  wall_time = 1 (double), step = 2 (int64), file_version = 3 (string, "brain.Event:2" in
//           the first record), summary = 5 (Summary: repeated Value value = 1; Value: tag = 1
//           string, simple_value = 2 float).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace minidl {

class TensorBoardWriter {
 public:
  // Creates dir (and its parents) and dir/events.out.tfevents.<unix seconds>.<hostname>, which
  // must not exist yet (an earlier file is never overwritten), and writes the file_version event.
  explicit TensorBoardWriter(const std::string& dir);

  // One event at `step` holding the scalar `value` under `tag` ("train/loss"), stored as a float.
  void add_scalar(const std::string& tag, double value, int64_t step);
  // Hands the events written so far to the operating system, so TensorBoard sees them while the
  // run goes on.
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& event);

  // Closing flushes what is left; a destructor cannot report a failure, so flush() is the check.
  struct CloseFile {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  std::string path_;
  std::unique_ptr<std::FILE, CloseFile> file_;
};

}  // namespace minidl
