// Where the read-only shared data lives: $LOWBIT_SHARED, else ../shared beside the checkout.
#pragma once

#include <string>

namespace lowbit {

std::string shared_dir();
std::string shared_path(const std::string& rel);  // shared_dir() + "/" + rel

}  // namespace lowbit
