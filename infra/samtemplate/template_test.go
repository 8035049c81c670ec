package samtemplate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const root = "../.."

// node walks a YAML mapping by keys; nil when a key is missing.
func node(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

func template(t *testing.T) *yaml.Node {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// functions are the directories of functions/ and their logical ids.
func functions(t *testing.T) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			out[e.Name()] = strings.ToUpper(e.Name()[:1]) + e.Name()[1:] + "Function"
		}
	}
	if len(out) != 4 {
		t.Fatalf("functions/ has %d directories, want 4", len(out))
	}
	return out
}

func TestEveryFunctionIsBuiltTheSameWay(t *testing.T) {
	doc := template(t)
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for dir, id := range functions(t) {
		fn := node(doc, "Resources", id)
		tests := []struct{ name, got, want string }{
			{"type", value(node(fn, "Type")), "AWS::Serverless::Function"},
			{"CodeUri", value(node(fn, "Properties", "CodeUri")), "."},
			{"BuildMethod", value(node(fn, "Metadata", "BuildMethod")), "makefile"},
			{"runtime", value(node(doc, "Globals", "Function", "Runtime")), "provided.al2023"},
			{"handler", value(node(doc, "Globals", "Function", "Handler")), "bootstrap"},
		}
		for _, tt := range tests {
			if tt.got != tt.want {
				t.Errorf("%s: %s = %q, want %q", id, tt.name, tt.got, tt.want)
			}
		}
		target := regexp.MustCompile(`(?m)^build-` + id + `:.*\n\t\$\(LAMBDA_ENV\) \$\(GO\) build \$\(LAMBDA_FLAGS\) -o \$\(ARTIFACTS_DIR\)/bootstrap \./functions/` + dir + `$`)
		if !target.Match(makefile) {
			t.Errorf("Makefile has no build-%s target building ./functions/%s into $(ARTIFACTS_DIR)/bootstrap", id, dir)
		}
	}
}

// TestLambdaBuildFlags: the bootstraps are static arm64 binaries without
// the RPC entrypoint, as provided.al2023 on Graviton runs them.
func TestLambdaBuildFlags(t *testing.T) {
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"LAMBDA_ENV    := GOOS=linux GOARCH=arm64 CGO_ENABLED=0", "LAMBDA_FLAGS  := -tags lambda.norpc -trimpath"} {
		if !strings.Contains(string(makefile), want) {
			t.Errorf("Makefile lacks %q", want)
		}
	}
	if got := value(node(template(t), "Globals", "Function", "Architectures").Content[0]); got != "arm64" {
		t.Errorf("architecture = %q, want arm64", got)
	}
}

func value(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Value
}

// envRead lists the environment variables the Go files of dir read
// through envconfig (Required, Optional, Int, URL, Duration), with the
// constants they name resolved, and follows imports of mobilepush/shared/awsstack.
func envRead(t *testing.T, dir string, seen map[string]bool) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	if seen[dir] {
		return out
	}
	seen[dir] = true
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	var calls []*ast.CallExpr
	for _, p := range pkgs {
		for _, f := range p.Files {
			for _, imp := range f.Imports {
				if path, _ := strconv.Unquote(imp.Path.Value); path == "mobilepush/shared/awsstack" {
					for k := range envRead(t, filepath.Join(root, "shared", "awsstack"), seen) {
						out[k] = true
					}
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.ValueSpec:
					for i, name := range n.Names {
						if i < len(n.Values) {
							if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								consts[name.Name], _ = strconv.Unquote(lit.Value)
							}
						}
					}
				case *ast.CallExpr:
					calls = append(calls, n)
				}
				return true
			})
		}
	}
	for _, c := range calls {
		sel, ok := c.Fun.(*ast.SelectorExpr)
		if !ok || len(c.Args) == 0 {
			continue
		}
		switch sel.Sel.Name {
		case "Required", "Optional", "Int", "URL", "Duration", "OneOf":
		default:
			continue
		}
		switch a := c.Args[0].(type) {
		case *ast.BasicLit:
			if s, err := strconv.Unquote(a.Value); err == nil && a.Kind == token.STRING {
				out[s] = true
			}
		case *ast.Ident:
			if s, ok := consts[a.Name]; ok {
				out[s] = true
			}
		case *ast.SelectorExpr: // awsstack.EnvEventBus and the like
			if s, ok := consts[a.Sel.Name]; ok {
				out[s] = true
			} else if x, ok := a.X.(*ast.Ident); ok && x.Name == "awsstack" {
				for k := range envRead(t, filepath.Join(root, "shared", "awsstack"), map[string]bool{}) {
					out[k] = true
				}
			}
		}
	}
	return out
}

func TestEveryVariableAFunctionReadsIsSet(t *testing.T) {
	doc := template(t)
	global := node(doc, "Globals", "Function", "Environment", "Variables")
	for dir, id := range functions(t) {
		read := envRead(t, filepath.Join(root, "functions", dir), map[string]bool{})
		if len(read) == 0 {
			t.Errorf("%s reads no configuration: the check found nothing to check", dir)
		}
		own := node(doc, "Resources", id, "Properties", "Environment", "Variables")
		for v := range read {
			if node(global, v) == nil && node(own, v) == nil {
				t.Errorf("%s reads %s, which template.yaml does not set", id, v)
			}
		}
	}
}

// TestNoWildcardResources: a statement granting every resource ("*")
// must say why in a comment, as for the actions AWS allows only on "*".
func TestNoWildcardResources(t *testing.T) {
	doc := template(t)
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if n == nil {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value == "Resource" && wildcard(v) && k.HeadComment == "" && k.LineComment == "" && v.LineComment == "" && n.HeadComment == "" {
					t.Errorf("%s grants Resource \"*\" without a comment saying why", path)
				}
				walk(v, path+"."+k.Value)
			}
			return
		}
		for _, c := range n.Content {
			walk(c, path)
		}
	}
	walk(node(doc, "Resources"), "Resources")
}

func wildcard(n *yaml.Node) bool {
	if n.Kind == yaml.ScalarNode {
		return n.Value == "*"
	}
	for _, c := range n.Content {
		if c.Kind == yaml.ScalarNode && c.Value == "*" {
			return true
		}
	}
	return false
}

func intParam(t *testing.T, doc *yaml.Node, n *yaml.Node, field string) int {
	t.Helper()
	v := value(n)
	if n != nil && n.Tag == "!Ref" {
		v = value(node(doc, "Parameters", n.Value, field))
	}
	i, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("not a number: %q", v)
	}
	return i
}

func TestSendQueue(t *testing.T) {
	doc := template(t)
	res := node(doc, "Resources")
	ev := node(res, "SendFunction", "Properties", "Events", "Queue", "Properties")
	timeout := intParam(t, doc, node(res, "SendFunction", "Properties", "Timeout"), "")
	visibility := intParam(t, doc, node(res, "SendQueue", "Properties", "VisibilityTimeout"), "")
	batch := node(ev, "BatchSize")
	tests := []struct {
		name string
		ok   bool
	}{
		{"the queue has a dead-letter queue", value(node(res, "SendQueue", "Properties", "RedrivePolicy", "deadLetterTargetArn")) == "SendDeadLetterQueue.Arn"},
		{"ReportBatchItemFailures", len(node(ev, "FunctionResponseTypes").Content) == 1 && node(ev, "FunctionResponseTypes").Content[0].Value == "ReportBatchItemFailures"},
		{"visibility timeout >= 6x the function timeout", visibility >= 6*timeout},
		{"lease outlives the function timeout and ends before the redelivery", between(intParam(t, doc, node(res, "SendFunction", "Properties", "Environment", "Variables", "LEASE_SECONDS"), ""), timeout+1, visibility-1)},
		{"a batching window whenever the batch size may exceed 10", intParam(t, doc, batch, "MaxValue") <= 10 || node(ev, "MaximumBatchingWindowInSeconds") != nil},
		{"maximum concurrency default within 2-1000", between(intParam(t, doc, node(ev, "ScalingConfig", "MaximumConcurrency"), "Default"), 2, 1000)},
		{"maximum concurrency bounds within 2-1000", between(intParam(t, doc, node(ev, "ScalingConfig", "MaximumConcurrency"), "MinValue"), 2, 1000) && between(intParam(t, doc, node(ev, "ScalingConfig", "MaximumConcurrency"), "MaxValue"), 2, 1000)},
		{"the DLQ alarm watches the DLQ", value(node(res, "DeadLettersAlarm", "Properties", "Namespace")) == "AWS/SQS"},
		{"the send function groups its follow-ups by SendGroupBy (a fair queue)", value(node(res, "SendFunction", "Properties", "Environment", "Variables", "SEND_GROUP_BY")) == "SendGroupBy"},
		{"SendGroupBy is tenant or app, tenant by default", value(node(doc, "Parameters", "SendGroupBy", "Default")) == "tenant" && len(node(doc, "Parameters", "SendGroupBy", "AllowedValues").Content) == 2},
		{"the noisy-tenant alarm watches the send queue's noisy groups", value(node(res, "NoisyTenantAlarm", "Properties", "MetricName")) == "ApproximateNumberOfNoisyGroups" && value(node(res, "NoisyTenantAlarm", "Properties", "Dimensions").Content[0].Content[3]) == "SendQueue.QueueName"},
	}
	for _, tt := range tests {
		if !tt.ok {
			t.Error(tt.name + ": no")
		}
	}
}

func between(v, lo, hi int) bool { return lo <= v && v <= hi }

func TestTable(t *testing.T) {
	props := node(template(t), "Resources", "Table", "Properties")
	tests := []struct{ name, got, want string }{
		{"billing", value(node(props, "BillingMode")), "PAY_PER_REQUEST"},
		{"PITR", value(node(props, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled")), "true"},
		{"TTL attribute", value(node(props, "TimeToLiveSpecification", "AttributeName")), "ttl"},
		{"TTL on", value(node(props, "TimeToLiveSpecification", "Enabled")), "true"},
		{"encryption", value(node(props, "SSESpecification", "SSEEnabled")), "true"},
		{"due index", value(node(node(props, "GlobalSecondaryIndexes").Content[0], "IndexName")), "due"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestAlarmsCoverEveryFunction(t *testing.T) {
	res := node(template(t), "Resources")
	for _, id := range functions(t) {
		name := strings.TrimSuffix(id, "Function")
		for _, metric := range []string{"Errors", "Throttles"} {
			a := node(res, name+metric+"Alarm", "Properties")
			if value(node(a, "MetricName")) != metric || node(a, "AlarmActions") == nil {
				t.Errorf("no %s alarm with an action for %s", metric, id)
			}
		}
	}
}

// TestHTTP2Client: the Http2Client parameter (lean by default, or std)
// reaches the send, register and validate functions (and expiry's live
// checks) as HTTP2_CLIENT, which awsstack reads.
func TestHTTP2Client(t *testing.T) {
	doc := template(t)
	p := node(doc, "Parameters", "Http2Client")
	if value(node(p, "Default")) != "lean" {
		t.Errorf("Http2Client default = %q, want lean", value(node(p, "Default")))
	}
	var allowed []string
	for _, c := range node(p, "AllowedValues").Content {
		allowed = append(allowed, c.Value)
	}
	if strings.Join(allowed, ",") != "lean,std" {
		t.Errorf("Http2Client allows %v, want [lean std]", allowed)
	}
	global := node(doc, "Globals", "Function", "Environment", "Variables")
	for _, id := range []string{"SendFunction", "RegisterFunction", "ValidateFunction", "ExpiryFunction"} {
		v := node(doc, "Resources", id, "Properties", "Environment", "Variables", "HTTP2_CLIENT")
		if v == nil {
			v = node(global, "HTTP2_CLIENT")
		}
		if v == nil || v.Tag != "!Ref" || v.Value != "Http2Client" {
			t.Errorf("%s: HTTP2_CLIENT is not !Ref Http2Client", id)
		}
	}
}
