#include "runtime/tls/ticket_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

namespace sluice::tls {

namespace {

// The key set a context's tickets use, found from the handshake (the evp callback has no
// argument of its own).
int keys_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool set_hmac(EVP_MAC_CTX* hmac, const TicketKey& key) {
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(
          OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key.hmac_key.data()), key.key_size),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  return EVP_MAC_CTX_set_params(hmac, params) == 1;
}

const EVP_CIPHER* cipher_of(const TicketKey& key) {
  return key.key_size == 32 ? EVP_aes_256_cbc() : EVP_aes_128_cbc();
}

int on_ticket_key(SSL* ssl, unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                  EVP_MAC_CTX* hmac, int encrypt) {
  // Tickets belong to the session context: the bind's first certificate's.
  const auto* keys =
      static_cast<const TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), keys_index()));
  if (keys == nullptr) return -1;
  if (encrypt) {
    const TicketKey& key = keys->keys[1];
    std::memcpy(name, key.name.data(), key.name.size());
    if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) return -1;
    if (EVP_EncryptInit_ex(cipher, cipher_of(key), nullptr, key.cipher_key.data(), iv) != 1 ||
        !set_hmac(hmac, key))
      return -1;
    return 1;
  }
  for (std::size_t i = 0; i < keys->keys.size(); ++i) {
    const TicketKey& key = keys->keys[i];
    if (std::memcmp(name, key.name.data(), key.name.size()) != 0) continue;
    if (EVP_DecryptInit_ex(cipher, cipher_of(key), nullptr, key.cipher_key.data(), iv) != 1 ||
        !set_hmac(hmac, key))
      return -1;
    return i == 1 ? 1 : 2;  // 2: resumed, and a ticket under the current key is sent
  }
  return 0;  // an unknown key: a full handshake
}

}  // namespace

TicketKeys random_ticket_keys() {
  TicketKeys out;
  for (auto& key : out.keys) {
    key.key_size = 32;
    if (RAND_bytes(key.name.data(), key.name.size()) != 1 ||
        RAND_bytes(key.cipher_key.data(), key.cipher_key.size()) != 1 ||
        RAND_bytes(key.hmac_key.data(), key.hmac_key.size()) != 1)
      throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

bool read_ticket_keys(const std::string& path, TicketKeys& out, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "unable to read the TLS ticket keys file '" + path + "'";
    return false;
  }
  std::vector<TicketKey> keys;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.pop_back();
    if (line.empty()) continue;
    unsigned char raw[128];
    const int n = line.size() <= 4 * sizeof raw / 3
                      ? EVP_DecodeBlock(raw, reinterpret_cast<const unsigned char*>(line.data()),
                                        static_cast<int>(line.size()))
                      : -1;
    // EVP_DecodeBlock counts '=' padding as zero bytes.
    const std::size_t padding = line.ends_with("==") ? 2 : line.ends_with("=") ? 1 : 0;
    const std::size_t size = n < 0 ? 0 : static_cast<std::size_t>(n) - padding;
    if (size != 48 && size != 80) {
      error = "TLS ticket keys file '" + path + "' line " + std::to_string(number) +
              ": not a base64 key of 48 or 80 bytes";
      return false;
    }
    TicketKey key;
    key.key_size = size == 80 ? 32 : 16;
    if (!keys.empty() && keys.front().key_size != key.key_size) {
      error = "TLS ticket keys file '" + path + "' line " + std::to_string(number) +
              ": 48- and 80-byte keys cannot be mixed";
      return false;
    }
    std::memcpy(key.name.data(), raw, 16);
    std::memcpy(key.cipher_key.data(), raw + 16, key.key_size);
    std::memcpy(key.hmac_key.data(), raw + 16 + key.key_size, key.key_size);
    keys.push_back(key);
  }
  if (keys.size() < kTicketKeysInUse) {
    error = "TLS ticket keys file '" + path + "' must hold at least " +
            std::to_string(kTicketKeysInUse) + " keys";
    return false;
  }
  for (std::size_t i = 0; i < kTicketKeysInUse; ++i)
    out.keys[i] = keys[keys.size() - kTicketKeysInUse + i];
  return true;
}

void use_ticket_keys(SSL_CTX* ctx, const TicketKeys& keys) {
  SSL_CTX_set_ex_data(ctx, keys_index(), const_cast<TicketKeys*>(&keys));
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket_key);
}

}  // namespace sluice::tls
