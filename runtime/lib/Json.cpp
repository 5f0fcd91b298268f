//===- Json.cpp - a compact JSON parser for model signatures
//---------------===//
//
// The runtime must not depend on LLVM, so it carries its own parser. It is
// strict (RFC 8259: no trailing commas, no comments) because a signature that
// is not valid JSON means a broken compiler, and bounded in nesting depth so a
// hostile library cannot exhaust the stack.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <charconv>
#include <cstdlib>
#include <system_error>

using namespace attn::rt;

const JsonValue *JsonValue::get(const std::string &key) const {
  for (const auto &member : members)
    if (member.first == key)
      return &member.second;
  return nullptr;
}

namespace {

class JsonParser {
public:
  explicit JsonParser(const std::string &text) : text(text) {}

  bool parseDocument(JsonValue &out, std::string &errorOut) {
    skipSpace();
    bool ok = parseValue(out, /*depth=*/0);
    if (ok) {
      skipSpace();
      if (pos != text.size())
        ok = setError("unexpected trailing characters");
    }
    if (!ok)
      errorOut = error;
    return ok;
  }

private:
  static constexpr int kMaxDepth = 64;

  const std::string &text;
  size_t pos = 0;
  std::string error;

  bool setError(const char *message) {
    error = format("%s at offset %zu", message, pos);
    return false;
  }

  bool atEnd() const { return pos >= text.size(); }
  char peek() const { return atEnd() ? '\0' : text[pos]; }

  void skipSpace() {
    while (!atEnd() && (text[pos] == ' ' || text[pos] == '\t' ||
                        text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }

  bool consumeLiteral(const char *literal) {
    size_t n = std::char_traits<char>::length(literal);
    if (text.compare(pos, n, literal) != 0)
      return setError("invalid literal");
    pos += n;
    return true;
  }

  bool parseValue(JsonValue &out, int depth) {
    if (depth > kMaxDepth)
      return setError("nesting too deep");
    switch (peek()) {
    case '{':
      return parseObject(out, depth);
    case '[':
      return parseArray(out, depth);
    case '"':
      out.kind = JsonValue::String;
      return parseString(out.string);
    case 't':
      out.kind = JsonValue::Bool;
      out.boolean = true;
      return consumeLiteral("true");
    case 'f':
      out.kind = JsonValue::Bool;
      out.boolean = false;
      return consumeLiteral("false");
    case 'n':
      out.kind = JsonValue::Null;
      return consumeLiteral("null");
    case '\0':
      if (atEnd())
        return setError("unexpected end of input");
      return setError("unexpected character");
    default:
      if (peek() == '-' || (peek() >= '0' && peek() <= '9'))
        return parseNumber(out);
      return setError("unexpected character");
    }
  }

  bool parseObject(JsonValue &out, int depth) {
    out.kind = JsonValue::Object;
    ++pos; // '{'
    skipSpace();
    if (peek() == '}') {
      ++pos;
      return true;
    }
    while (true) {
      skipSpace();
      if (peek() != '"')
        return setError("expected a string key");
      std::string key;
      if (!parseString(key))
        return false;
      if (out.get(key))
        return setError("duplicate key");
      skipSpace();
      if (peek() != ':')
        return setError("expected ':'");
      ++pos;
      skipSpace();
      JsonValue value;
      if (!parseValue(value, depth + 1))
        return false;
      out.members.emplace_back(std::move(key), std::move(value));
      skipSpace();
      if (peek() == ',') {
        ++pos;
        continue;
      }
      if (peek() == '}') {
        ++pos;
        return true;
      }
      return setError("expected ',' or '}'");
    }
  }

  bool parseArray(JsonValue &out, int depth) {
    out.kind = JsonValue::Array;
    ++pos; // '['
    skipSpace();
    if (peek() == ']') {
      ++pos;
      return true;
    }
    while (true) {
      skipSpace();
      JsonValue value;
      if (!parseValue(value, depth + 1))
        return false;
      out.elements.push_back(std::move(value));
      skipSpace();
      if (peek() == ',') {
        ++pos;
        continue;
      }
      if (peek() == ']') {
        ++pos;
        return true;
      }
      return setError("expected ',' or ']'");
    }
  }

  static int hexValue(char c) {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  }

  bool parseHex4(uint32_t &out) {
    if (text.size() - pos < 4)
      return setError("truncated \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      int v = hexValue(text[pos + i]);
      if (v < 0)
        return setError("invalid \\u escape");
      out = out * 16 + static_cast<uint32_t>(v);
    }
    pos += 4;
    return true;
  }

  static void appendUtf8(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool parseString(std::string &out) {
    ++pos; // '"'
    while (true) {
      if (atEnd())
        return setError("unterminated string");
      char c = text[pos++];
      if (c == '"')
        return true;
      if (static_cast<unsigned char>(c) < 0x20)
        return setError("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (atEnd())
        return setError("unterminated string");
      char esc = text[pos++];
      switch (esc) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp;
        if (!parseHex4(cp))
          return false;
        // A high surrogate must be followed by an escaped low surrogate.
        if (cp >= 0xD800 && cp < 0xDC00) {
          uint32_t low;
          if (text.compare(pos, 2, "\\u") != 0)
            return setError("unpaired surrogate");
          pos += 2;
          if (!parseHex4(low))
            return false;
          if (low < 0xDC00 || low >= 0xE000)
            return setError("unpaired surrogate");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) {
          return setError("unpaired surrogate");
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        --pos;
        return setError("invalid escape");
      }
    }
  }

  bool parseNumber(JsonValue &out) {
    size_t start = pos;
    bool integral = true;
    if (peek() == '-')
      ++pos;
    if (peek() == '0') {
      ++pos;
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9')
        ++pos;
    } else {
      return setError("invalid number");
    }
    if (peek() == '.') {
      integral = false;
      ++pos;
      if (!(peek() >= '0' && peek() <= '9'))
        return setError("invalid number");
      while (peek() >= '0' && peek() <= '9')
        ++pos;
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++pos;
      if (peek() == '+' || peek() == '-')
        ++pos;
      if (!(peek() >= '0' && peek() <= '9'))
        return setError("invalid number");
      while (peek() >= '0' && peek() <= '9')
        ++pos;
    }
    // from_chars, unlike strtod, ignores the host application's locale.
    const char *first = text.data() + start, *last = text.data() + pos;
    out.kind = JsonValue::Number;
    if (std::from_chars(first, last, out.number).ec != std::errc()) {
      // Out of range: strtod saturates to +-inf or 0 as appropriate.
      out.number = std::strtod(std::string(first, last).c_str(), nullptr);
    }
    if (integral) {
      int64_t v = 0;
      auto result = std::from_chars(first, last, v);
      if (result.ec == std::errc() && result.ptr == last) {
        out.isInteger = true;
        out.integer = v;
      }
    }
    return true;
  }
};

} // namespace

bool attn::rt::parseJson(const std::string &text, JsonValue &out,
                         std::string &error) {
  out = JsonValue();
  return JsonParser(text).parseDocument(out, error);
}
