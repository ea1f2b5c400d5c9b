#include "kernels/qdot.h"

namespace lowbit {

const QDotKernel* qdot_kernels_kquants(int* count) {
  *count = 0;
  return nullptr;
}

}  // namespace lowbit
