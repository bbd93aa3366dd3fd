// `tls-ticket-keys FILE` in HAProxy's format: one base64 key per line, 48 bytes (a 16-byte
// name, AES-128 and HMAC keys) or 80 (AES-256 and HMAC-SHA256 keys of 32), all the same
// size, at least three. The last three decrypt tickets and the middle one of them
// encrypts: appending a key and reloading rotates them, every process of a fleet that
// reads the same file resuming each other's sessions.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace sluice::tls {

struct TicketKey {
  std::array<unsigned char, 16> name{};
  std::array<unsigned char, 32> cipher_key{};  // the first 16 bytes for AES-128
  std::array<unsigned char, 32> hmac_key{};    // likewise
  std::size_t key_size = 16;                   // 16 (AES-128) or 32 (AES-256)
};

// HAProxy's TLS_TICKETS_NO: how many keys are in use at a time.
inline constexpr std::size_t kTicketKeysInUse = 3;

struct TicketKeys {
  std::array<TicketKey, kTicketKeysInUse> keys;  // oldest first; keys[1] encrypts
};

// The keys in use from `path`; false with `error` saying what is wrong with the file.
bool read_ticket_keys(const std::string& path, TicketKeys& out, std::string& error);

// Three random AES-256 keys: what a master gives a bind without a key file, so that the
// tickets its workers issue stay valid across reloads.
TicketKeys random_ticket_keys();

// Tickets of `ctx` encrypted and decrypted with `keys` (which must outlive it).
void use_ticket_keys(SSL_CTX* ctx, const TicketKeys& keys);

}  // namespace sluice::tls
