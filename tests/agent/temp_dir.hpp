#pragma once
// A new directory under the system's temporary one for a test, removed with
// everything in it when the test ends.

#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace cairn::test {

struct TempDir {
    std::filesystem::path path;

    // The directory is named `prefix` and a random suffix.
    explicit TempDir(std::string_view prefix) {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

} // namespace cairn::test
