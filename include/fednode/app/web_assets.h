#pragma once
// Files the node serves, built into the binary (cmake/embed_file.cmake): nothing is fetched from
// anywhere else, so the live page works offline.
#include <string_view>

namespace fednode {

std::string_view live_page_html();  // src/app/web/index.html

}  // namespace fednode
