#include "server/http/webhook_target.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>

#include "util/check.h"

namespace canter::server {
namespace {

bool v4_is_non_public(uint32_t a) {  // host byte order
    auto in = [a](uint32_t net, int bits) { return (a >> (32 - bits)) == (net >> (32 - bits)); };
    return in(0x00000000, 8) ||    // 0.0.0.0/8 "this network"
           in(0x0A000000, 8) ||    // 10/8
           in(0x64400000, 10) ||   // 100.64/10 carrier-grade NAT
           in(0x7F000000, 8) ||    // 127/8 loopback
           in(0xA9FE0000, 16) ||   // 169.254/16 link-local, cloud metadata
           in(0xAC100000, 12) ||   // 172.16/12
           in(0xC0000000, 24) ||   // 192.0.0/24 IETF protocol assignments
           in(0xC0A80000, 16) ||   // 192.168/16
           in(0xC6120000, 15) ||   // 198.18/15 benchmarking
           in(0xE0000000, 4) ||    // 224/4 multicast
           in(0xF0000000, 4);      // 240/4 reserved, broadcast
}

}  // namespace

bool is_non_public_address(const std::string& numeric) {
    in_addr v4{};
    if (inet_pton(AF_INET, numeric.c_str(), &v4) == 1) return v4_is_non_public(ntohl(v4.s_addr));
    in6_addr v6{};
    if (inet_pton(AF_INET6, numeric.c_str(), &v6) != 1) return true;  // not an address: refuse
    const uint8_t* b = v6.s6_addr;
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (std::memcmp(b, kMapped, 12) == 0) {  // ::ffff:a.b.c.d is that IPv4 address
        return v4_is_non_public((uint32_t(b[12]) << 24) | (uint32_t(b[13]) << 16) | (uint32_t(b[14]) << 8) | b[15]);
    }
    bool zero_prefix = true;  // ::, ::1 and the deprecated ::a.b.c.d
    for (int i = 0; i < 12; ++i) zero_prefix = zero_prefix && b[i] == 0;
    if (zero_prefix) return true;
    return (b[0] & 0xFE) == 0xFC ||                 // fc00::/7 unique local (fd00:ec2::254 metadata)
           (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) ||  // fe80::/10 link-local
           b[0] == 0xFF ||                          // ff00::/8 multicast
           (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B);  // 64:ff9b::/96 NAT64
}

WebhookTarget resolve_webhook_target(const std::string& url, bool allow_private) {
    WebhookTarget t;
    const auto scheme_end = url.find("://");
    t.scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
    CANTER_CHECK(t.scheme == "http" || t.scheme == "https", InvalidArgument,
                 "webhook_url: must be an http(s) URL, got '" << url.substr(0, 80) << "'");
    const size_t host_start = scheme_end + 3;
    const size_t path_start = url.find_first_of("/?#", host_start);
    std::string authority = url.substr(host_start, path_start == std::string::npos ? std::string::npos
                                                                                     : path_start - host_start);
    t.path = path_start == std::string::npos ? "/" : url.substr(path_start);
    if (!t.path.empty() && t.path[0] != '/') t.path = "/" + t.path;
    CANTER_CHECK(authority.find('@') == std::string::npos, InvalidArgument,
                 "webhook_url: credentials in the URL are not accepted");
    std::string port;
    if (!authority.empty() && authority[0] == '[') {  // [v6]:port
        const auto close = authority.find(']');
        CANTER_CHECK(close != std::string::npos, InvalidArgument, "webhook_url: unterminated [IPv6] host");
        t.host = authority.substr(1, close - 1);
        if (close + 1 < authority.size() && authority[close + 1] == ':') port = authority.substr(close + 2);
    } else {
        const auto colon = authority.rfind(':');
        t.host = authority.substr(0, colon);
        if (colon != std::string::npos) port = authority.substr(colon + 1);
    }
    CANTER_CHECK(!t.host.empty(), InvalidArgument, "webhook_url: no host in '" << url.substr(0, 80) << "'");
    t.port = t.scheme == "https" ? 443 : 80;
    if (!port.empty()) {
        CANTER_CHECK(port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos &&
                         std::stoi(port) > 0 && std::stoi(port) < 65536,
                     InvalidArgument, "webhook_url: bad port '" << port << "'");
        t.port = std::stoi(port);
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc = getaddrinfo(t.host.c_str(), nullptr, &hints, &found);
    CANTER_CHECK(rc == 0 && found, InvalidArgument,
                 "webhook_url: cannot resolve host '" << t.host << "' (" << gai_strerror(rc) << ")");
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, freeaddrinfo);
    for (const addrinfo* a = found; a; a = a->ai_next) {
        char buf[INET6_ADDRSTRLEN] = {0};
        const void* src = a->ai_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
                                                  : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
        if (!inet_ntop(a->ai_family, src, buf, sizeof buf)) continue;
        const std::string numeric = buf;
        CANTER_CHECK(allow_private || !is_non_public_address(numeric), InvalidArgument,
                     "webhook_url: host '" << t.host << "' resolves to " << numeric
                                           << ", a loopback, private, link-local or reserved address; webhooks go "
                                              "to public addresses only (canter serve --allow-private-webhooks "
                                              "allows these)");
        t.addresses.push_back(numeric);
    }
    CANTER_CHECK(!t.addresses.empty(), InvalidArgument, "webhook_url: host '" << t.host << "' has no address");
    return t;
}

}  // namespace canter::server
