// doctest for a test that uses LibTorch: include it after every torch header. Torch's headers bring glog's
// CHECK macros (which abort the process on failure); doctest's CHECKs must win, so glog's names go first.
#pragma once

#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE
#include <doctest/doctest.h>
