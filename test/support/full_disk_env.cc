#include "full_disk_env.h"

#include <algorithm>

namespace tieup::testing {

class FullDiskFile final : public WritableFile {
 public:
  FullDiskFile(FullDiskEnv& env, std::string path, std::unique_ptr<WritableFile> base)
      : env_(env), path_(std::move(path)), base_(std::move(base)) {}

  Status Append(std::string_view data) override {
    const uint64_t fits = env_.Take(path_, data.size());
    if (fits > 0) RETURN_IF_ERROR(base_->Append(data.substr(0, fits)));
    if (fits < data.size()) {
      return Status::ResourceExhausted("writing '" + path_ +
                                       "': No space left on device (free some disk space and "
                                       "retry)");
    }
    return Status::Ok();
  }
  Status Sync() override { return base_->Sync(); }
  Status Close() override { return base_->Close(); }

 private:
  FullDiskEnv& env_;
  std::string path_;
  std::unique_ptr<WritableFile> base_;
};

FullDiskEnv::FullDiskEnv(Env& base) : base_(base) {}

void FullDiskEnv::SetFreeBytes(uint64_t bytes, std::string only_under) {
  std::lock_guard<std::mutex> lock(mu_);
  free_ = bytes;
  only_under_ = std::move(only_under);
}

void FullDiskEnv::LiftLimit() {
  std::lock_guard<std::mutex> lock(mu_);
  free_.reset();
}

uint64_t FullDiskEnv::bytes_written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

uint64_t FullDiskEnv::refused_writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refused_;
}

uint64_t FullDiskEnv::Take(const std::string& path, uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t fits = n;
  if (free_.has_value() && path.starts_with(only_under_)) {
    fits = std::min(n, *free_);
    *free_ -= fits;
    if (fits < n) ++refused_;
  }
  written_ += fits;
  return fits;
}

Result<std::unique_ptr<WritableFile>> FullDiskEnv::NewWritableFile(const std::string& path) {
  ASSIGN_OR_RETURN(auto file, base_.NewWritableFile(path));
  return std::unique_ptr<WritableFile>(new FullDiskFile(*this, path, std::move(file)));
}

Result<std::unique_ptr<WritableFile>> FullDiskEnv::NewAppendableFile(const std::string& path) {
  ASSIGN_OR_RETURN(auto file, base_.NewAppendableFile(path));
  return std::unique_ptr<WritableFile>(new FullDiskFile(*this, path, std::move(file)));
}

}  // namespace tieup::testing
