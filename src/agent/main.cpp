#include <cstdio>
#include <string_view>

int main(int argc, char** argv)
{
    if (argc > 1 && std::string_view(argv[1]) == "version") {
        std::printf("cairn %s\n", CAIRN_VERSION);
        return 0;
    }
    std::fprintf(stderr, "usage: cairn <agent|validate|version> ...\n");
    return 2;
}
