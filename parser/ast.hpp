// The configuration AST: sections of typed statements, every node located in its file.
// Produced by parse_document(); consumed only by runtime/compile. Syntax only: names are
// not resolved and files are not opened here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "parser/lexer.hpp"
#include "parser/values.hpp"

namespace sluice::parser::ast {

// ---- samples, ACLs and conditions -------------------------------------------------------

struct Converter {
  std::string name;
  std::vector<std::string> args;
};

// `req.hdr(host),lower`: a fetch with arguments, then converters.
struct Sample {
  std::string fetch;
  std::vector<std::string> args;
  std::vector<Converter> converters;
  Location loc;
};

enum class MatchMethod { none, str, beg, end, sub, reg, found, len, ip, integer, bool_, dir, dom };
enum class IntOperator { none, eq, ge, gt, le, lt };

// `CRITERION [flags] [operator] VALUE...` as in an `acl` line or inside `{ }`.
struct AclExpr {
  Sample sample;
  bool ignore_case = false;
  MatchMethod method = MatchMethod::none;  // none: the fetch's default
  IntOperator op = IntOperator::none;
  std::vector<Word> pattern_files;  // -f FILE
  std::vector<Word> values;
  Location loc;
};

struct ConditionTerm {
  bool negated = false;
  std::variant<Word, AclExpr> acl;  // a named ACL, or an anonymous one `{ ... }`
  Location loc;
};

// `if A B || !C` = (A and B) or (not C); `unless` negates the whole.
struct Condition {
  bool unless = false;
  std::vector<std::vector<ConditionTerm>> any_of;
  Location loc;
};

// A log-format string: literal text, `%[sample]` and `%X` aliases such as `%ci`.
struct FormatAlias {
  std::string name;
  Location loc;
};
using FormatPart = std::variant<std::string, Sample, FormatAlias>;
struct LogFormat {
  std::vector<FormatPart> parts;
  Word source;
};

// ---- statement payloads -----------------------------------------------------------------

struct Flag {};
struct Integer {
  std::int64_t value = 0;
};
struct Duration {
  std::uint64_t us = 0;
};
struct Text {
  Word value;
};
// Arguments kept as words after validation (e.g. `ssl-default-bind-options`, `hash-type`).
struct Words {
  std::vector<Word> words;
};

enum class ProxyMode { http, tcp };
struct Mode {
  ProxyMode mode = ProxyMode::tcp;
};

// One `name [value]` option of a bind, server or default-server line.
struct Setting {
  Word name;
  std::optional<Word> value;
  bool negated = false;  // `no-ssl`, `no-check`, ... written as the positive name
};

struct Bind {
  Word address_text;
  std::vector<Address> addresses;
  std::vector<Setting> settings;
};

struct Server {
  Word name;
  Word address_text;
  Address address;
  std::vector<Setting> settings;
};

struct DefaultServer {
  std::vector<Setting> settings;
};

struct BackendRef {
  Word backend;
  std::optional<Condition> condition;
};

struct Acl {
  Word name;
  AclExpr expr;
};

struct Balance {
  Word algorithm;
  std::vector<Word> args;
};

struct Option {
  Word name;
  bool negated = false;  // `no option X`
  std::vector<Word> args;
};

struct Log {
  bool global = false;   // `log global`
  bool disable = false;  // `no log`
  Word target;
  std::optional<std::int64_t> max_length;
  std::optional<Word> format;
  std::optional<Word> facility;
  std::optional<Word> level;
  std::optional<Word> min_level;
};

struct ErrorFile {
  std::int64_t status = 0;
  Word path;
};

// http-request / http-response / redirect actions.
struct HeaderAction {
  enum class Kind { set, add, del, replace } kind = Kind::set;
  Word name;
  std::optional<LogFormat> value;  // set / add / replace
  std::optional<Word> regex;       // replace
};
struct RedirectAction {
  enum class Kind { location, prefix, scheme } kind = Kind::location;
  LogFormat target;
  std::int64_t code = 302;
  bool drop_query = false;
  bool append_slash = false;
};
struct DenyAction {
  std::int64_t status = 403;
};
struct ReturnAction {
  std::int64_t status = 200;
  std::optional<Word> content_type;
  enum class Body { none, string, lf_string, file, lf_file, errorfile } body_kind = Body::none;
  std::optional<Word> body;
  std::vector<std::pair<Word, LogFormat>> headers;
};
struct SetPathAction {
  LogFormat path;
};
using HttpAction =
    std::variant<HeaderAction, RedirectAction, DenyAction, ReturnAction, SetPathAction>;

struct HttpRule {
  Word action_name;
  HttpAction action;
  std::optional<Condition> condition;
};

struct TcpRule {
  enum class Layer { connection, content } layer = Layer::content;
  bool accept = true;
  std::optional<Condition> condition;
};

struct HttpCheckExpect {
  bool negated = false;
  Word kind;  // status rstatus string rstring
  Word pattern;
};

struct HttpCheckSend {
  std::optional<Word> method;
  std::optional<Word> uri;
  std::optional<Word> version;
  std::vector<std::pair<Word, Word>> headers;
  std::optional<Word> body;
};

// `tcp-check comment|connect|send|send-binary|expect …`, its arguments validated.
struct TcpCheck {
  enum class Kind { comment, connect, send, expect } kind = Kind::comment;
  std::string comment;  // `tcp-check comment TEXT`, or a rule's `comment TEXT`
  // connect
  bool server_defaults = false;  // `default`
  int port = 0;                  // 0: the check port, else the server's
  std::optional<Word> addr;
  bool ssl = false;
  std::optional<Word> sni;
  bool linger = false;
  // send: the bytes (`send-binary` decoded)
  std::string data;
  // expect
  bool negated = false;
  std::string match;    // string rstring binary rbinary
  std::string pattern;  // text or regex; binary: decoded
  Word pattern_word;
  std::int64_t min_recv = -1;
  std::string ok_status, error_status, timeout_status;  // empty: HAProxy's defaults
};

using Payload = std::variant<Flag, Integer, Duration, Text, Words, Mode, Bind, Server,
                             DefaultServer, BackendRef, Acl, Balance, Option, Log, ErrorFile,
                             HttpRule, TcpRule, HttpCheckExpect, HttpCheckSend, TcpCheck>;

// How far sluice implements a keyword today; compile warns for `parsed_only`.
enum class Support { enforced, parsed_only };

struct Statement {
  std::string_view keyword;  // the keyword row's path: "timeout client", "option httpchk"
  Location loc;              // the first word
  Support support = Support::enforced;
  Payload payload;
};

enum class SectionKind { global, defaults, frontend, backend, listen };

struct Section {
  SectionKind kind = SectionKind::global;
  Location loc;
  std::optional<Word> name;
  std::optional<Word> from;               // `frontend NAME from DEFAULTS`
  std::uint32_t rejected_statements = 0;  // lines that were errors: no knock-on warnings
  std::vector<Statement> statements;
};

struct Document {
  std::vector<Section> sections;
};

const char* section_word(SectionKind kind);

}  // namespace sluice::parser::ast
