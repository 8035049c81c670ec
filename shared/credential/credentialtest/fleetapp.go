package credentialtest

import (
	"fmt"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// fleetStates is the mix of APNs states of FleetApp's apps.
var fleetStates = []credential.State{credential.Expired, credential.Expiring, credential.Invalid, credential.OK, credential.OK, credential.OK, credential.Suspended, credential.OK}

// FleetApp is app i of a benchmark fleet of tenant at now: a rebranded
// app with an APNs certificate (in one of several states, expiring
// between 20 days ago and a year and a bit from now) and an FCM key, with
// facts and secret references the size real ones have. It holds no
// secret.
func FleetApp(tenant string, i int, now time.Time) credential.App {
	states := fleetStates
	return credential.App{
		Tenant: tenant, ID: fmt.Sprintf("app-%05d", i), Name: fmt.Sprintf("Brand %04d", i), Description: "Rebranded app of customer " + fmt.Sprint(i),
		Enabled: true, Environment: push.Production, Version: 1, CreatedAt: now, UpdatedAt: now,
		APNs: &credential.Meta{Kind: push.APNsP12, Status: credential.Status{State: states[i%len(states)], Reason: "r", Message: "The certificate expires on 2027-01-01.", CheckedAt: now},
			Secret: credential.SecretRef{ID: fmt.Sprintf("arn:aws:secretsmanager:us-east-1:123456789012:secret:mobilepush/%s/app-%05d/apns-AbCdEf", tenant, i), VersionID: "00000000-0000-4000-8000-000000000001"},
			Facts: credential.Facts{FingerprintSHA256: fmt.Sprintf("%064x", i), Subject: fmt.Sprintf("UID=com.brand%04d.app, CN=Apple Push Services: com.brand%04d.app, OU=ABCDE12345, O=Brand, C=US", i, i),
				BundleID: fmt.Sprintf("com.brand%04d.app", i), TeamID: "ABCDE12345", Topics: []string{fmt.Sprintf("com.brand%04d.app", i), fmt.Sprintf("com.brand%04d.app.voip", i)},
				Environment: "both", NotBefore: now.Add(-200 * 24 * time.Hour), NotAfter: now.Add(time.Duration(i%400-20) * 24 * time.Hour)},
			DueAt: now.Add(24 * time.Hour), RotatedAt: now},
		FCM: &credential.Meta{Kind: push.FCMJSON, Status: credential.Status{State: credential.OK, Message: "Checked offline and accepted by the provider.", CheckedAt: now},
			Secret: credential.SecretRef{ID: fmt.Sprintf("arn:aws:secretsmanager:us-east-1:123456789012:secret:mobilepush/%s/app-%05d/fcm-AbCdEf", tenant, i), VersionID: "00000000-0000-4000-8000-000000000002"},
			Facts:  credential.Facts{FingerprintSHA256: fmt.Sprintf("%064x", i+1), ProjectID: fmt.Sprintf("brand%04d-push", i), ClientEmail: fmt.Sprintf("firebase-adminsdk@brand%04d-push.iam.gserviceaccount.com", i), PrivateKeyID: fmt.Sprintf("%040x", i)},
			DueAt:  now.Add(30 * 24 * time.Hour), RotatedAt: now},
	}
}
