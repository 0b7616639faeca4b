// Optional KV key validation (opt-in `kvKeyValidation`), following validateKVKey in
// hashicorp/consul's agent/kvs_endpoint.go on main. Released agents differ: 1.21.5 rejected any
// key outside ^[a-zA-Z0-9,_./\-?&=]+$ with a 500 (colons included), later patches relaxed it
// to path-traversal and leading/trailing-space checks (disable_kv_key_validation turns it off).

const VALID_KEY = /^[a-zA-Z0-9,\-_./]+$/;
const TRAVERSAL = /(\.\.[\\/])|(\.\.\\)|(^\.\.)|(\.\.$)/;
const ENCODED_TRAVERSAL = /(%2e%2e(%2f|%5c|\/))|(\.\.%2f)|(\.\.%5c)|(%252e%252e%252f)/i;
const SUSPICIOUS_EXTENSION =
  /\.(js|css|html?|xml|json|txt|log|php|asp|jsp|cgi|pl|py|rb|sh|exe|dll|bat|cmd|com|scr|vbs|pdf|docx?|xlsx?|pptx?|zip|rar|tar|gz|7z|bz2|jpe?g|png|gif|svg|ico|bmp|mp[34]|avi|mov|wmv|flv|swf|woff2?|ttf|eot|otf)(\?|$)/i;

/** The 400 text for a refused key (or raw path), undefined when acceptable. Empty keys are left to the handlers. */
export function kvKeyError(rawPath: string, key: string): string | undefined {
  if (/(\.\.[\\/])/.test(rawPath) || ENCODED_TRAVERSAL.test(rawPath)) {
    return "URL path contains invalid or encoded traversal sequence";
  }
  if (key === "") return undefined;
  if (key.startsWith("/")) return "key must not begin with a '/'";
  if (!VALID_KEY.test(key)) return "key contains invalid characters. Only alphanumeric characters and ,-_./ are allowed";
  if (TRAVERSAL.test(key)) return "key contains path traversal sequence";
  if (ENCODED_TRAVERSAL.test(key)) return "key contains encoded path traversal sequence";
  if (SUSPICIOUS_EXTENSION.test(key)) return "key contains suspicious file extension that may be cached by proxies or exploited";
  return undefined;
}
