module mobilepush

go 1.26.0

require (
	github.com/aws/aws-lambda-go v1.55.1
	software.sslmate.com/src/go-pkcs12 v0.7.4
)

require (
	github.com/stretchr/testify v1.12.1 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	golang.org/x/crypto v0.11.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
)
