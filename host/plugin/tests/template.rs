//! The built-in `go-template` rule through the real host: ace-dt's scatter template (spec
//! §12.4), the reference helpers, the data object, a spread of sprig functions, the output
//! rules, and errors that name the template and the image.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use std::time::{Duration, Instant};

use ferry_plugin::{Host, Image, Limits, Loaded, Mapper, Platform, PluginError, builtin};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn image(source: &str) -> Image {
    Image {
        source: source.to_owned(),
        digest: DIGEST.to_owned(),
        media_type: "application/vnd.oci.image.manifest.v1+json".to_owned(),
        size: 1234,
        platform: None,
        artifact_type: None,
        annotations: vec![("vnd.act3-ace.manifest.source".to_owned(), source.to_owned())],
        labels: vec![("component".to_owned(), "core".to_owned()), ("module".to_owned(), "test".to_owned())],
    }
}

struct Rule {
    host: Host,
    loaded: Loaded,
}

impl Rule {
    fn new() -> Rule {
        Rule::with_limits(Limits::default())
    }

    fn with_limits(limits: Limits) -> Rule {
        let host = Host::new(limits, None).unwrap();
        let loaded = host.load("go-template", builtin::GO_TEMPLATE).unwrap();
        Rule { host, loaded }
    }

    fn mapper(&self, template: &str) -> Mapper<'_> {
        let params = vec![("file".to_owned(), template.to_owned()), ("path".to_owned(), "maps/route.tmpl".to_owned())];
        Mapper::new(&self.host, &self.loaded, params).unwrap()
    }

    /// The destinations `template` gives for `img`.
    fn map(&self, template: &str, img: &Image) -> Result<Vec<String>, PluginError> {
        self.mapper(template).map(img)
    }

    /// The one line `template` renders for an image of `quay.io/ceph/ceph:v16.2.7`.
    fn line(&self, template: &str) -> String {
        let lines = self.map(template, &image("quay.io/ceph/ceph:v16.2.7")).unwrap_or_else(|e| panic!("{template}: {e}"));
        lines.join("\n")
    }

    fn error(&self, template: &str, img: &Image) -> String {
        let err = self.map(template, img).unwrap_err();
        assert!(matches!(err, PluginError::Refused { .. }), "{template}: {err}");
        err.to_string()
    }
}

/// T(prefix) of ace-dt's TestScatter_Run.
fn acedt_template(prefix: &str) -> String {
    format!(
        r#"{{{{- $name := index .Annotations "vnd.act3-ace.manifest.source" -}}}}
H/high/scatter/{prefix}/{{{{ trimPrefix "H/" $name -}}}}
{{{{ if hasPrefix "H/low/source1" $name }}}}
H/high/scatter/{prefix}/source1:tag
{{{{- end -}}}}
"#
    )
}

#[test]
fn acedt_scatter_template() {
    let rule = Rule::new();
    let template = acedt_template("go-template");
    assert_eq!(
        rule.map(&template, &image("H/low/source1:v1")).unwrap(),
        ["H/high/scatter/go-template/low/source1:v1", "H/high/scatter/go-template/source1:tag"]
    );
    let pinned = format!("H/low/source2@{DIGEST}");
    assert_eq!(rule.map(&template, &image(&pinned)).unwrap(), [format!("H/high/scatter/go-template/low/source2@{DIGEST}")]);
    // The filter case's template.
    let filtered = r#"{{- $name := index .Annotations "vnd.act3-ace.manifest.source" -}}
H/high/scatter/filtered/{{ trimPrefix "H/low/" $name -}}"#;
    assert_eq!(rule.map(filtered, &image("H/low/source1:v1")).unwrap(), ["H/high/scatter/filtered/source1:v1"]);
}

#[test]
fn reference_helpers() {
    let rule = Rule::new();
    let template = "{{ Registry .Source }}|{{ Repository .Source }}|{{ Tag .Source }}|{{ Package .Source }}";
    let rows = [
        ("quay.io/ceph/ceph:v16.2.7".to_owned(), "quay.io|ceph/ceph|v16.2.7|ceph/ceph:v16.2.7".to_owned()),
        ("localhost:5000/a/b:1".to_owned(), "localhost:5000|a/b|1|a/b:1".to_owned()),
        ("docker.io/library/alpine".to_owned(), "docker.io|library/alpine||library/alpine".to_owned()),
        (format!("reg.example.com/a/b@{DIGEST}"), format!("reg.example.com|a/b|{DIGEST}|a/b@{DIGEST}")),
        // A digest wins over the tag beside it.
        (format!("reg.example.com/a/b:1@{DIGEST}"), format!("reg.example.com|a/b|{DIGEST}|a/b:1@{DIGEST}")),
        ("[::1]:5000/x/y__z.w-v:t_1.2-3".to_owned(), "[::1]:5000|x/y__z.w-v|t_1.2-3|x/y__z.w-v:t_1.2-3".to_owned()),
    ];
    for (source, want) in rows {
        assert_eq!(rule.map(template, &image(&source)).unwrap(), [want], "{source}");
    }
}

#[test]
fn invalid_references_fail_naming_them() {
    let rule = Rule::new();
    for (source, why) in [
        ("alpine", "missing registry or repository"),
        ("reg.example.com/Upper/case:1", "invalid repository"),
        ("reg.example.com/a//b", "invalid repository"),
        ("reg.example.com/a/", "invalid repository"),
        ("reg.example.com/a:bad!tag", "invalid tag"),
        ("reg.example.com/a:", "invalid tag"),
        ("reg.example.com/a@sha256:abc", "invalid digest"),
        ("reg.example.com/a@md5:0123", "invalid digest"),
        ("reg example.com/a:1", "invalid registry"),
        ("reg.example.com:port/a:1", "invalid registry"),
    ] {
        let text = rule.error("{{ Tag .Source }}", &image(source));
        assert!(text.contains(&format!("Tag: invalid reference {source:?}")) && text.contains(why), "{source}: {text}");
        assert!(text.contains(&format!("maps/route.tmpl: executing for {source}: ")), "{text}");
    }
}

#[test]
fn descriptor_fields_labels_and_platform() {
    let rule = Rule::new();
    let mut img = image("quay.io/ceph/ceph:v16.2.7");
    img.annotations.push(("org.opencontainers.image.ref.name".to_owned(), "v16.2.7".to_owned()));
    img.artifact_type = Some("application/vnd.example+type".to_owned());
    assert_eq!(
        rule.map("{{ .MediaType }} {{ .Digest }} {{ .Size }} {{ len .URLs }} {{ len .Data }} {{ .ArtifactType }}", &img).unwrap(),
        [format!("application/vnd.oci.image.manifest.v1+json {DIGEST} 1234 0 0 application/vnd.example+type")]
    );
    assert_eq!(
        rule.map(
            r#"{{ index .Annotations "org.opencontainers.image.ref.name" }} {{ .Labels.component }} {{ index .Labels "module" }}"#,
            &img
        )
        .unwrap(),
        ["v16.2.7 core test"]
    );
    // A key a string map lacks is "", as in Go's map[string]string.
    assert_eq!(rule.line(r#"[{{ index .Annotations "nope" }}] {{ eq (index .Labels "nope") "" }}"#), "[] true");
    assert_eq!(rule.line(r#"{{ if .ArtifactType }}set{{ else }}unset{{ end }} {{ .Source }}"#), "unset quay.io/ceph/ceph:v16.2.7");

    let template = "{{ if .Platform }}{{ .Platform.OS }}/{{ .Platform.Architecture }}/{{ .Platform.Variant }}/{{ .Platform.OSVersion }}/{{ join \",\" .Platform.OSFeatures }}{{ else }}no platform{{ end }}";
    assert_eq!(rule.map(template, &img).unwrap(), ["no platform"]);
    img.platform = Some(Platform {
        architecture: "arm64".to_owned(),
        os: "windows".to_owned(),
        os_version: "10.0.17763".to_owned(),
        os_features: vec!["win32k".to_owned(), "x".to_owned()],
        arch_variant: "v8".to_owned(),
    });
    assert_eq!(rule.map(template, &img).unwrap(), ["windows/arm64/v8/10.0.17763/win32k,x"]);
    assert_eq!(
        rule.map(r#"high/{{ .Labels.component }}/{{ if eq .Labels.module "test" }}t/{{ end }}{{ Package .Source }}"#, &img).unwrap(),
        ["high/core/t/ceph/ceph:v16.2.7"]
    );
}

#[test]
fn sprig_string_functions() {
    let rule = Rule::new();
    for (template, want) in [
        (r#"{{ trim "  a b  " }}"#, "a b"),
        (r#"{{ trimAll "$" "$$5.00$" }}"#, "5.00"),
        (r#"{{ .Source | trimPrefix "quay.io/" }}"#, "ceph/ceph:v16.2.7"),
        (r#"{{ trimSuffix ":v16.2.7" .Source }}"#, "quay.io/ceph/ceph"),
        (r#"{{ upper "abc" }} {{ lower "ABC" }}"#, "ABC abc"),
        (r#"{{ title "hello wide-world_x" }}"#, "Hello Wide-World_x"),
        (r#"{{ untitle "Hello World" }}"#, "hello world"),
        (r#"{{ swapcase "Hello World" }}"#, "hELLO wORLD"),
        (r#"{{ repeat 3 "ab" }}"#, "ababab"),
        (r#"{{ substr 0 4 "quay.io" }}|{{ substr 5 -1 "quay.io" }}|{{ substr -3 2 "quay.io" }}"#, "quay|io|qu"),
        (r#"{{ nospace "a b\tc" }}"#, "abc"),
        (r#"{{ trunc 4 "quay.io" }}|{{ trunc -2 "quay.io" }}|{{ trunc 40 "ab" }}"#, "quay|io|ab"),
        (r#"{{ abbrev 5 "hello world" }}|{{ abbrev 20 "hello" }}"#, "he...|hello"),
        (r#"{{ initials "First Try" }}"#, "FT"),
        (r#"{{ contains "ceph" .Source }} {{ hasPrefix "quay" .Source }} {{ hasSuffix "x" .Source }}"#, "true true false"),
        (r#"{{ quote "a\"b" 1 }} {{ squote "x" }}"#, r#""a\"b" "1" 'x'"#),
        (r#"{{ cat "a" 1 nil "b" }}"#, "a 1 b"),
        (r#"{{ indent 2 "a\nb" | replace "\n" "|" | printf "[%s]" }}"#, "[  a|  b]"),
        (r#"{{ nindent 1 "a" | replace "\n" "|" }}"#, "| a"),
        (r#"{{ replace "/" "_" .Source }}"#, "quay.io_ceph_ceph:v16.2.7"),
        (r#"{{ plural "image" "images" 1 }} {{ plural "image" "images" 2 }}"#, "image images"),
        (
            r#"{{ snakecase "HTTPServerName" }} {{ kebabcase "firstName2x" }} {{ camelcase "http_server-name" }}"#,
            "http_server_name first-name-2x HttpServerName",
        ),
        (r#"{{ toString 42 }}{{ toString "x" }}"#, "42x"),
        (r#"{{ printf "%s-%d" "a" 3 }} {{ len "abc" }} {{ slice "abcdef" 1 3 }}"#, "a-3 3 bc"),
    ] {
        assert_eq!(rule.line(template), want, "{template}");
    }
}

#[test]
fn sprig_list_dict_and_value_functions() {
    let rule = Rule::new();
    for (template, want) in [
        (r#"{{ splitList "/" .Source | join "," }}"#, "quay.io,ceph,ceph:v16.2.7"),
        (r#"{{ $p := split "/" .Source }}{{ $p._0 }} {{ $p._2 }}"#, "quay.io ceph:v16.2.7"),
        (r#"{{ list "b" "c" "a" | sortAlpha }}"#, "[a b c]"),
        (r#"{{ $l := list 1 2 3 }}{{ first $l }} {{ last $l }} {{ rest $l }} {{ initial $l }}"#, "1 3 [2 3] [1 2]"),
        (
            r#"{{ $l := list 1 2 }}{{ append $l 3 }} {{ push $l 3 }} {{ prepend $l 0 }} {{ concat $l (list 9) $l }}"#,
            "[1 2 3] [1 2 3] [0 1 2] [1 2 9 1 2]",
        ),
        (r#"{{ reverse (list 1 2 3) }} {{ uniq (list 1 1 2 1) }} {{ without (list 1 2 3 2) 2 }}"#, "[3 2 1] [1 2] [1 3]"),
        (r#"{{ has 2 (list 1 2) }} {{ list 1 2 | has 5 }} {{ compact (list 1 "" 0 "a" nil) }}"#, "true false [1 a]"),
        (r#"{{ until 3 }} {{ untilStep 2 10 3 }} {{ range $i := until 3 }}{{ $i }}{{ end }}"#, "[0 1 2] [2 5 8] 012"),
        (r#"{{ toStrings (list 1 "a") | join "+" }}"#, "1+a"),
        (r#"{{ $d := dict "a" 1 "b" "x" }}{{ get $d "b" }} {{ hasKey $d "a" }} {{ hasKey $d "z" }} [{{ get $d "z" }}]"#, "x true false []"),
        (
            r#"{{ $d := dict "a" 1 }}{{ $d = set $d "b" 2 }}{{ $d }} {{ unset $d "a" }} {{ keys $d }} {{ values $d }}"#,
            "map[a:1 b:2] map[b:2] [a b] [1 2]",
        ),
        (r#"{{ pluck "a" (dict "a" 1) (dict "b" 2) (dict "a" 3) }}"#, "[1 3]"),
        (r#"{{ $d := dict "a" 1 "b" 2 "c" 3 }}{{ pick $d "a" "c" }} {{ omit $d "a" }}"#, "map[a:1 c:3] map[b:2 c:3]"),
        (r#"{{ merge (dict "a" 1) (dict "a" 2 "b" 2) }} {{ mergeOverwrite (dict "a" 1) (dict "a" 2) }}"#, "map[a:1 b:2] map[a:2]"),
        (r#"{{ dig "x" "y" "none" (dict "x" (dict "y" "deep")) }} {{ dig "x" "z" "none" (dict "x" (dict)) }}"#, "deep none"),
        (r#"{{ index .Labels "component" | default "none" }} {{ index .Labels "nope" | default "none" }}"#, "core none"),
        (r#"{{ empty "" }} {{ empty (list) }} {{ empty 0 }} {{ empty "a" }}"#, "true true true false"),
        (r#"{{ coalesce "" .ArtifactType "third" }} {{ ternary "yes" "no" true }} {{ ternary "yes" "no" false }}"#, "third yes no"),
        (r#"{{ all 1 "a" }} {{ any 0 "" }}"#, "true false"),
        (r#"{{ atoi "42" }} {{ int "0x10" }} {{ int64 "7" }} {{ float64 "1.5" }} {{ atoi "x" }}"#, "42 16 7 1.5 0"),
        (
            r#"{{ add 1 2 3 }} {{ add1 1 }} {{ sub 5 7 }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ mod 7 2 }} {{ max 1 9 3 }} {{ min 4 2 8 }}"#,
            "6 2 -2 24 3 1 9 2",
        ),
        (r#"{{ b64enc "ferry" }} {{ b64dec "ZmVycnk=" }}"#, "ZmVycnk= ferry"),
        (r#"{{ sha256sum "abc" }}"#, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (r#"{{ toJson (dict "b" (list 1 "<x>") "a" nil) }} {{ toRawJson (list "<") }}"#, r#"{"a":null,"b":[1,"\u003cx\u003e"]} ["<"]"#),
        (r#"{{ toPrettyJson (dict "a" 1) | replace "\n" "|" }}"#, r#"{|  "a": 1|}"#),
        (r#"{{ $j := fromJson "{\"repo\": \"x/y\", \"n\": [1, 2]}" }}{{ $j.repo }} {{ index $j.n 1 }}"#, "x/y 2"),
    ] {
        assert_eq!(rule.line(template), want, "{template}");
    }
}

#[test]
fn sprig_regex_functions() {
    let rule = Rule::new();
    for (template, want) in [
        (r#"{{ regexMatch "^quay\\.io/" .Source }} {{ regexMatch "^docker" .Source }}"#, "true false"),
        (r#"{{ regexFind "[0-9]+" .Source }}|{{ regexFind "z+" .Source }}"#, "16|"),
        (r#"{{ regexFindAll "[0-9]+" .Source -1 }} {{ regexFindAll "[0-9]+" .Source 2 }}"#, "[16 2 7] [16 2]"),
        (r#"{{ regexReplaceAll "^quay\\.io/(.*):(.*)$" .Source "mirror/${1}/${2}" }}"#, "mirror/ceph/ceph/v16.2.7"),
        (r#"{{ regexReplaceAllLiteral "ceph" .Source "$1" }}"#, "quay.io/$1/$1:v16.2.7"),
        (r#"{{ regexSplit "[/:]" .Source -1 }} {{ regexSplit "/" .Source 2 }}"#, "[quay.io ceph ceph v16.2.7] [quay.io ceph/ceph:v16.2.7]"),
        (r#"{{ regexQuoteMeta "a.b*c-d" }}"#, r"a\.b\*c-d"),
        // Go's \w is ASCII.
        (r#"{{ regexReplaceAll "\\w" "aé" "x" }}"#, "xé"),
    ] {
        assert_eq!(rule.line(template), want, "{template}");
    }
    let text = rule.error(r#"{{ regexMatch "(" .Source }}"#, &image("a/b"));
    assert!(text.contains("regexMatch: invalid regular expression \"(\""), "{text}");
}

#[test]
fn trimming_and_named_templates() {
    let rule = Rule::new();
    assert_eq!(rule.line("a   {{- \"b\" -}}   \n  c"), "abc");
    let template = r#"{{- define "dest" -}}high/{{ . }}{{- end -}}
{{- template "dest" (Package .Source) }}
{{ block "extra" .Labels }}extra/{{ .component }}{{ end }}"#;
    assert_eq!(rule.map(template, &image("quay.io/ceph/ceph:v16.2.7")).unwrap(), ["high/ceph/ceph:v16.2.7", "extra/core"]);
}

#[test]
fn output_lines_are_trimmed_and_blank_ones_dropped() {
    let rule = Rule::new();
    let img = image("a/b");
    assert_eq!(rule.map("  one  \r\n\n\t\n two\r\n\n", &img).unwrap(), ["one", "two"]);
    assert!(rule.map(" \n\t\r\n ", &img).unwrap().is_empty(), "only whitespace: no destination");
    assert!(rule.map("", &img).unwrap().is_empty(), "empty: no destination");
    assert!(rule.map("{{ if false }}x{{ end }}", &img).unwrap().is_empty());
}

#[test]
fn errors_name_the_template_and_the_image() {
    let rule = Rule::new();
    // A parse error, with its line and column, from every call.
    let mut m = rule.mapper("first line\n{{ if }}\n");
    for _ in 0..2 {
        let text = m.map(&image("a/b")).unwrap_err().to_string();
        assert!(text.starts_with("component go-template: map-image: maps/route.tmpl:2:"), "{text}");
        assert!(text.contains("empty command"), "{text}");
    }
    let text = rule.error("{{ .Source", &image("a/b"));
    assert!(text.contains("maps/route.tmpl:1:"), "{text}");
    // Render errors name the image's source, or its digest when it has none.
    let text = rule.error(r#"x{{ fail "no route for this one" }}"#, &image("reg.example.com/a:1"));
    assert!(text.contains("maps/route.tmpl: executing for reg.example.com/a:1: ") && text.contains("no route for this one"), "{text}");
    let text = rule.error("{{ nosuch .Source }}", &image(""));
    assert!(text.contains(&format!("executing for {DIGEST}: ")) && text.contains("nosuch"), "{text}");
    let text = rule.error(r#"{{ required "a team label" .Labels.team }}"#, &image("a/b"));
    assert!(text.contains("required: a team label"), "{text}");
    // A missing parameter.
    let mut m = Mapper::new(&rule.host, &rule.loaded, vec![]).unwrap();
    assert!(m.map(&image("a/b")).unwrap_err().to_string().contains("the parameter \"file\""));
}

#[test]
fn endless_templates_are_stopped_and_the_rule_recovers() {
    // Fuel, not time, so the test does not depend on the machine's speed.
    let rule = Rule::with_limits(Limits { time: Duration::from_secs(3600), fuel: 50_000_000, ..Limits::default() });
    let mut m = rule.mapper(
        "{{ range $i := until 1000000 }}{{ range $j := until 1000000 }}{{ $x := sha256sum (repeat 10 \"x\") }}{{ end }}{{ end }}\nok/{{ Package .Source }}",
    );
    let started = Instant::now();
    let err = m.map(&image("a/b")).unwrap_err();
    assert!(matches!(err, PluginError::Trap { .. }) && err.to_string().contains("used all its fuel"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    // The same rule serves the next call, and so does another template.
    assert!(m.map(&image("a/b")).is_err());
    assert_eq!(rule.map("ok/{{ Package .Source }}", &image("a/b")).unwrap(), ["ok/b"]);
    // Endless recursion is stopped by gotmpl's depth limit, as an error of the template.
    let text = rule.error(r#"{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}"#, &image("a/b"));
    assert!(text.contains("recursion limit exceeded"), "{text}");
}
