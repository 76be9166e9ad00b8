// Where a webhook may go. A webhook URL is the client's, but the request is the server's: without
// a check a client could make canter POST to its own loopback services, the LAN or the cloud
// metadata endpoint (SSRF). So destinations that resolve to loopback, private, link-local
// (169.254.169.254 included), carrier-grade NAT, multicast or reserved addresses are refused
// unless the operator allows them (--allow-private-webhooks), at submission and again right
// before delivery, on the addresses actually connected to.
#pragma once

#include <string>
#include <vector>

namespace canter::server {

struct WebhookTarget {
    std::string scheme, host;  // host without brackets
    int port = 0;
    std::string path;          // "/..." with the query
    std::vector<std::string> addresses;  // numeric, as resolved (the ones a delivery may use)
};

// Whether a numeric IPv4/IPv6 address is one a public webhook must not reach.
bool is_non_public_address(const std::string& numeric);

// Parses and resolves `url`; throws canter::Error (kInvalidArgument) naming the URL and the
// reason: not http(s), unresolvable, or a non-public address while `allow_private` is false.
WebhookTarget resolve_webhook_target(const std::string& url, bool allow_private);

}  // namespace canter::server
