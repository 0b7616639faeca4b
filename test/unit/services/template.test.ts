import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../../src/errors.ts";
import { compileTags, compileTemplate, TemplateError } from "../../../src/services/template.ts";
import { goReplace } from "../../../src/services/template-helpers.ts";
import { BRIDGE_IP, container } from "../builders.ts";

const c = container({
  name: "web1",
  id: "abcdef0123456789".repeat(4),
  hostname: "web-host-1",
  image: "registry:5000/team/app:1.2",
  env: { APP_ENV: "prod", DC: "eu-west-1", META: '{"zone":"a","ids":[7,8]}' },
  labels: { "com.example.team": "Payments", "version": "1.2.3", "com.example.csv": "x\\,y" },
  ports: { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "8080" }] },
});
const render = (spec: string): string => compileTemplate(spec)(c);

describe("field paths", () => {
  const cases: Array<[string, string]> = [
    ["{{.ID}}", "abcdef0123456789".repeat(4)],
    ["{{.Id}}", "abcdef0123456789".repeat(4)],
    ["{{.Name}}", "/web1"],
    ["{{.Config.Hostname}}", "web-host-1"],
    ["{{.Config.Image}}", "registry:5000/team/app:1.2"],
    ["{{.Config.Labels.version}}", "1.2.3"],
    ["{{.State.Running}}", "true"],
    ["{{.State.ExitCode}}", "0"],
    ["{{.HostConfig.NetworkMode}}", "default"],
    ["{{.NetworkSettings.Networks.bridge.IPAddress}}", BRIDGE_IP],
    ["{{.NetworkSettings.IPAddress}}", BRIDGE_IP],
    ["{{.Config.Nope}}", ""],
    ["{{.Nope.Deeper}}", ""],
    ["{{.Config.hostname}}", "web-host-1"],
    ["x-{{ .Config.Hostname }}-y", "x-web-host-1-y"],
    ["{{.Config.Env}}", 'APP_ENV=prod,DC=eu-west-1,META={"zone":"a","ids":[7,8]}'],
    ["{{index .Config.Labels \"com.example.team\"}}", "Payments"],
    ["{{index .Config.Labels `com.example.team`}}", "Payments"],
    ["{{index .Config.Env 1}}", "DC=eu-west-1"],
    ["{{index .Config.Labels \"missing\"}}", ""],
    ["{{ .Config.Hostname | toUpper }}", "WEB-HOST-1"],
    ["{{ (index .Config.Labels \"com.example.team\") | toLower }}", "payments"],
    ["{{ (index .NetworkSettings.Networks \"bridge\").IPAddress }}", BRIDGE_IP],
    ["{{- \" a \" -}} b {{- \"c\" }}", " a bc"],
    ["a {{/* comment */}}b", "a b"],
    ["a {{- /* comment */ -}} b", "ab"],
    ['{{"q\\"\\tx\\u00e9"}}', 'q"\txé'],
    ["{{ 42 }} {{ true }} {{ nil }}", "42 true "],
  ];
  for (const [spec, want] of cases) test(spec, () => expect(render(spec)).toBe(want));
});

describe("helpers", () => {
  const cases: Array<[string, string]> = [
    ['{{ strSlice .Config.Env 1 2 }}', "DC=eu-west-1"],
    ['{{ .Config.Env | strSlice 0 2 }}', "APP_ENV=prod,DC=eu-west-1"],
    ['{{ strSlice .Config.Hostname 4 }}', "host-1"],
    ['{{ sIndex .Config.Env 0 }}', "APP_ENV=prod"],
    ['{{ .Config.Env | sIndex -1 }}', 'META={"zone":"a","ids":[7,8]}'],
    ['{{ sIndex .Config.Env 9 }}', ""],
    ['{{ mIndex .Config.Labels "version" }}', "1.2.3"],
    ['{{ .Config.Labels | mIndex "com.example.team" }}', "Payments"],
    ['{{ mIndex .Config.Labels "nope" }}', ""],
    ['{{ toUpper "ab" }}', "AB"],
    ['{{ toLower "AB" }}', "ab"],
    ['{{ replace .Config.Hostname "-" "_" -1 }}', "web_host_1"],
    ['{{ replace .Config.Hostname "-" "_" 1 }}', "web_host-1"],
    ['{{ .Config.Hostname | replace "-" "." }}', "web.host.1"],
    ['{{ join .Config.Env "|" }}', 'APP_ENV=prod|DC=eu-west-1|META={"zone":"a","ids":[7,8]}'],
    ['{{ split .Config.Hostname "-" }}', "web,host,1"],
    ['{{ split "a-b" "-" | join "+" }}', "a+b"],
    ['{{ splitIndex .Config.Hostname "-" 1 }}', "host"],
    ['{{ splitIndex .Config.Hostname "-" 7 }}', ""],
    ['{{ matchFirstElement .Config.Env "^DC=" }}', "DC=eu-west-1"],
    ['{{ .Config.Env | matchFirstElement "^NOPE" }}', ""],
    ['{{ matchAllElements .Config.Env "=(prod|eu)" }}', "APP_ENV=prod,DC=eu-west-1"],
  ];
  for (const [spec, want] of cases) test(spec, () => expect(render(spec)).toBe(want));

  test("jsonParse walks keys", () => {
    const spec = '{{ jsonParse (matchFirstElement .Config.Env "^META=" | replace "META=" "") "zone" }}';
    expect(render(spec)).toBe("a");
    expect(render('{{ jsonParse "{\\"ids\\":[7,8]}" "ids" "1" }}')).toBe("8");
    expect(render('{{ jsonParse "[1,2]" }}')).toBe("1,2");
    expect(render('{{ jsonParse "{\\"a\\":{\\"b\\":1}}" }}')).toBe('{"a":{"b":1}}');
  });
  test("len", () => {
    expect(render("{{ len .Config.Env }} {{ len .Config.Labels }} {{ len .Config.Hostname }}")).toBe("3 3 10");
  });
});

describe("compileTags", () => {
  test("plain list without {{ is a comma list", () => {
    expect(compileTags("a, b,,a,c\\,d")(c)).toEqual(["a", "b", "c,d"]);
    expect(compileTags("")(c)).toEqual([]);
  });
  test("template output is split like SERVICE_TAGS", () => {
    const f = compileTags('dc-{{ splitIndex .Config.Hostname "-" 0 }},{{ index .Config.Labels "com.example.csv" }}, {{ .Config.Labels.version }} ,static');
    expect(f(c)).toEqual(["dc-web", "x,y", "1.2.3", "static"]);
  });
  test("a list result becomes several tags", () => {
    expect(compileTags('{{ matchAllElements .Config.Env "^(APP_ENV|DC)=" }}')(c)).toEqual(["APP_ENV=prod", "DC=eu-west-1"]);
  });
  test("runtime errors throw TemplateError naming -tags", () => {
    const f = compileTags("{{ index .Config.Env 7 }}");
    expect(() => f(c)).toThrow(TemplateError);
    expect(() => f(c)).toThrow("-tags template: index: index 7 out of range (length 3)");
    expect(() => compileTags('{{ jsonParse "{" }}')(c)).toThrow('-tags template: jsonParse: "{" is not JSON');
    expect(() => compileTags('{{ matchFirstElement .Config.Env "(" }}')(c)).toThrow("invalid regular expression");
    expect(() => compileTags("{{ toUpper .Config.Env }}")(c)).toThrow("toUpper needs a string, got a list");
    expect(() => compileTags("{{ .Config.Hostname.Deeper }}")(c)).toThrow('cannot read field "Deeper" of a string');
  });
});

describe("bad templates are ConfigErrors naming -tags at startup", () => {
  const cases: Array<[string, string]> = [
    ["{{ .Config.Hostname ", "unclosed action"],
    ["{{ nope .X }}", 'unknown function "nope"'],
    ["{{ if .X }}a{{ end }}", '"if" is not supported'],
    ["{{ range .Config.Env }}{{ . }}{{ end }}", '"range" is not supported'],
    ["{{ $x := 1 }}", "variables are not supported"],
    ["{{ httpGet \"http://x\" }}", '"httpGet" is not supported'],
    ["{{ toUpper }}", '"toUpper" takes 1 arguments, got 0'],
    ["{{ .X | toUpper \"a\" }}", '"toUpper" takes 1 arguments, got 2'],
    ["{{ splitIndex .X }}", '"splitIndex" takes 3 arguments, got 1'],
    ["{{ \"abc }}", "unterminated string"],
    ["{{ \"a\\q\" }}", 'unknown escape "\\q"'],
    ["{{ .X .Y }}", "a value cannot take arguments"],
    ["{{ toUpper \"a\" | .X }}", "a value cannot take arguments"],
    ["{{ }}", "missing value in pipeline"],
    ["{{ .X | }}", "missing value in pipeline"],
    ["{{ join toUpper \",\" }}", '"toUpper" needs arguments'],
    ["{{ (toUpper .X }}", 'missing ")"'],
    ["{{ /* open }}", "unclosed comment"],
    ["{{ @ }}", 'unexpected "@"'],
  ];
  for (const [spec, problem] of cases) {
    test(spec, () => {
      let err: unknown;
      try {
        compileTags(spec);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toStartWith(`Invalid -tags template ${JSON.stringify(spec)}: `);
      expect((err as Error).message).toContain(problem);
    });
  }
});

describe("replace behaves like Go's strings.Replace", () => {
  // Expected values are Go's (strings.Replace documents the empty-old and n rules).
  const cases: Array<[string, string, string, number, string]> = [
    ["abc", "", "-", -1, "-a-b-c-"],
    ["abc", "", "-", 2, "-a-bc"],
    ["abc", "", "-", 4, "-a-b-c-"],
    ["abc", "", "-", 2 ** 53 - 1, "-a-b-c-"],
    ["a\u{1F600}b", "", "-", -1, "-a-\u{1F600}-b-"],
    ["", "", "x", 1_000_000_000, "x"],
    ["aaaa", "aa", "b", -1, "bb"],
    ["aaaa", "aa", "b", 1, "baa"],
    ["banana", "a", "o", 2, "bonona"],
    ["banana", "a", "a", -1, "banana"],
    ["banana", "x", "y", -1, "banana"],
    ["banana", "a", "o", 0, "banana"],
    ["a.b.c", ".", "..", 99, "a..b..c"],
  ];
  for (const [s, old, neu, n, want] of cases) {
    test(`Replace(${JSON.stringify(s)}, ${JSON.stringify(old)}, ${JSON.stringify(neu)}, ${n})`, () => {
      expect(goReplace(s, old, neu, n)).toBe(want);
      expect(render(`{{ replace ${JSON.stringify(s)} ${JSON.stringify(old)} ${JSON.stringify(neu)} ${n} }}`)).toBe(want);
    });
  }

  test("an empty search string with a huge count on a 100 KB value inserts at most characters + 1 times", () => {
    const value = "x".repeat(100_000);
    const out = goReplace(value, "", "y", 2 ** 53 - 1);
    expect(out.length).toBe(200_001);
    expect(out.startsWith("yxyx")).toBe(true);
    expect(out.endsWith("xy")).toBe(true);
  });
});
