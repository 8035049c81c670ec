package samtemplate

import (
	"encoding/json"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"mobilepush/shared/alert"
)

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
	doc := template(t)
	res := node(doc, "Resources")
	var wantTypes []string
	for _, ty := range alert.CredentialTypes() {
		wantTypes = append(wantTypes, string(ty))
	}
	rule := node(res, "CredentialAlertRule")
	gotTypes := scalars(node(rule, "Properties", "EventPattern", "detail-type"))
	slices.Sort(gotTypes)
	slices.Sort(wantTypes)
	var targets []string
	for _, tg := range node(rule, "Properties", "Targets").Content {
		targets = append(targets, intrinsic(node(tg, "Arn")))
	}
	var input map[string]any
	inputErr := json.Unmarshal([]byte(node(res, "ExpirySchedule", "Properties", "Target", "Input").Value), &input)
	policy := node(res, "AlertTopicPolicy", "Properties", "PolicyDocument", "Statement").Content[0]

	tests := []struct {
		name      string
		got, want any
	}{
		{"bus type", node(res, "EventBus", "Type").Value, "AWS::Events::EventBus"},
		{"rule type", node(rule, "Type").Value, "AWS::Events::Rule"},
		{"rule bus", intrinsic(node(rule, "Properties", "EventBusName")), "!Ref EventBus"},
		{"rule source", scalars(node(rule, "Properties", "EventPattern", "source")), []string{alert.Source}},
		{"rule detail-types", gotTypes, wantTypes},
		{"rule targets", targets, []string{"!Ref AlertTopic"}},
		{"topic type", node(res, "AlertTopic", "Type").Value, "AWS::SNS::Topic"},
		{"topic policy principal", node(policy, "Principal", "Service").Value, "events.amazonaws.com"},
		{"topic policy action", node(policy, "Action").Value, "sns:Publish"},
		{"topic policy source", intrinsic(node(policy, "Condition", "ArnEquals", "aws:SourceArn")), "!GetAtt CredentialAlertRule.Arn"},
		{"subscription condition", node(res, "AlertEmailSubscription", "Condition").Value, "HasAlertEmail"},
		{"subscription protocol", node(res, "AlertEmailSubscription", "Properties", "Protocol").Value, "email"},
		{"subscription topic", intrinsic(node(res, "AlertEmailSubscription", "Properties", "TopicArn")), "!Ref AlertTopic"},
		{"schedule type", node(res, "ExpirySchedule", "Type").Value, "AWS::Scheduler::Schedule"},
		{"schedule target", intrinsic(node(res, "ExpirySchedule", "Properties", "Target", "Arn")), "!GetAtt ExpiryFunction.Arn"},
		{"schedule input is JSON", inputErr, nil},
		{"functions know the bus", intrinsic(node(doc, "Globals", "Function", "Environment", "Variables", "EVENT_BUS_NAME")), "!Ref EventBus"},
	}
	for _, tt := range tests {
		gj, _ := json.Marshal(tt.got)
		wj, _ := json.Marshal(tt.want)
		if string(gj) != string(wj) {
			t.Errorf("%s = %s, want %s", tt.name, gj, wj)
		}
	}
}
