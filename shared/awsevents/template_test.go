package awsevents_test

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"mobilepush/shared/alert"
	"mobilepush/shared/awsdynamo/dynamotest"
)

// get walks mapping keys from n; nil when a key is missing.
func get(n *yaml.Node, keys ...string) *yaml.Node {
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

func scalars(n *yaml.Node) []string {
	var out []string
	if n != nil {
		for _, c := range n.Content {
			out = append(out, c.Value)
		}
	}
	return out
}

// intrinsic renders a tagged scalar such as "!Ref EventBus".
func intrinsic(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Tag + " " + n.Value
}

// TestTemplateRoutesCredentialEventsToSNS checks statically what moto
// cannot run (PutEvents to an SNS target answers 500 there): the alert
// rule on the system's bus matches exactly the credential detail-types and
// targets the alert topic, which lets EventBridge publish; the e-mail
// subscription is optional; the schedule invokes the expiry function with
// a raw input; the function knows the bus.
func TestTemplateRoutesCredentialEventsToSNS(t *testing.T) {
	raw, err := os.ReadFile(dynamotest.TemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	res := get(doc.Content[0], "Resources")
	var wantTypes []string
	for _, ty := range alert.CredentialTypes() {
		wantTypes = append(wantTypes, string(ty))
	}
	rule := get(res, "CredentialAlertRule")
	gotTypes := scalars(get(rule, "Properties", "EventPattern", "detail-type"))
	slices.Sort(gotTypes)
	slices.Sort(wantTypes)
	var targets []string
	for _, tg := range get(rule, "Properties", "Targets").Content {
		targets = append(targets, intrinsic(get(tg, "Arn")))
	}
	var input map[string]any
	inputErr := json.Unmarshal([]byte(get(res, "ExpirySchedule", "Properties", "Target", "Input").Value), &input)
	policy := get(res, "AlertTopicPolicy", "Properties", "PolicyDocument", "Statement").Content[0]

	tests := []struct {
		name      string
		got, want any
	}{
		{"bus type", get(res, "EventBus", "Type").Value, "AWS::Events::EventBus"},
		{"rule type", get(rule, "Type").Value, "AWS::Events::Rule"},
		{"rule bus", intrinsic(get(rule, "Properties", "EventBusName")), "!Ref EventBus"},
		{"rule source", scalars(get(rule, "Properties", "EventPattern", "source")), []string{alert.Source}},
		{"rule detail-types", gotTypes, wantTypes},
		{"rule targets", targets, []string{"!Ref AlertTopic"}},
		{"topic type", get(res, "AlertTopic", "Type").Value, "AWS::SNS::Topic"},
		{"topic policy principal", get(policy, "Principal", "Service").Value, "events.amazonaws.com"},
		{"topic policy action", get(policy, "Action").Value, "sns:Publish"},
		{"topic policy source", intrinsic(get(policy, "Condition", "ArnEquals", "aws:SourceArn")), "!GetAtt CredentialAlertRule.Arn"},
		{"subscription condition", get(res, "AlertEmailSubscription", "Condition").Value, "HasAlertEmail"},
		{"subscription protocol", get(res, "AlertEmailSubscription", "Properties", "Protocol").Value, "email"},
		{"subscription topic", intrinsic(get(res, "AlertEmailSubscription", "Properties", "TopicArn")), "!Ref AlertTopic"},
		{"schedule type", get(res, "ExpirySchedule", "Type").Value, "AWS::Scheduler::Schedule"},
		{"schedule target", intrinsic(get(res, "ExpirySchedule", "Properties", "Target", "Arn")), "!GetAtt ExpiryFunction.Arn"},
		{"schedule input is JSON", inputErr, nil},
		{"functions know the bus", intrinsic(get(doc.Content[0], "Globals", "Function", "Environment", "Variables", "EVENT_BUS_NAME")), "!Ref EventBus"},
	}
	for _, tt := range tests {
		gj, _ := json.Marshal(tt.got)
		wj, _ := json.Marshal(tt.want)
		if string(gj) != string(wj) {
			t.Errorf("%s = %s, want %s", tt.name, gj, wj)
		}
	}
}
