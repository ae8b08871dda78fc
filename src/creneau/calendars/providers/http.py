"""The one HTTP client every provider uses: timeouts, an SSRF guard, and error mapping.

Server URLs come from users and are fetched by our server, so a URL must not become a door into the
operator's network. Before each connection (and again for each redirect, which we follow ourselves) the host
name is resolved and every address checked: loopback, private, link-local, multicast, reserved and unspecified
addresses are refused unless they fall inside ``NetworkPolicy.allowed_private_networks``.
"""
