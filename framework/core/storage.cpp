#include "framework/core/storage.h"

#include "framework/core/allocator.h"

namespace minidl {

Storage::Storage(size_t nbytes, Device device, Allocator* allocator)
    : allocator_(allocator != nullptr ? allocator : &allocator_for(device)),
      data_(allocator_->allocate(nbytes)),
      nbytes_(nbytes),
      device_(device) {}

Storage::~Storage() { allocator_->deallocate(data_, nbytes_); }

}  // namespace minidl
