package sambadc_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/tenantra/tenantra/network/lab/sambadc"
)

// TestStartSeed provisions a DC, seeds it and reads a few seeded facts back over LDAP.
func TestStartSeed(t *testing.T) {
	start := time.Now()
	dc := sambadc.Start(t, sambadc.Options{})
	t.Logf("provisioned and started in %v on %s", time.Since(start), dc.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start = time.Now()
	truth, err := dc.Seed(ctx)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	t.Logf("seeded %d objects in %v", len(truth.Objects), time.Since(start))
	conn, err := dc.Conn()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	res, err := conn.Search(ldap.NewSearchRequest("CN=krbtgt,CN=Users,"+dc.BaseDN,
		ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 10, false, "(objectClass=*)",
		[]string{"pwdLastSet"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	got := res.Entries[0].GetAttributeValue("pwdLastSet")
	if want := sambadc.FileTime(truth.KrbtgtPwdLastSet); got != strconv.FormatInt(want, 10) {
		t.Errorf("krbtgt pwdLastSet = %s, want %d", got, want)
	}
	for _, o := range truth.Objects {
		if o.DN == "" || o.SAMAccountName == "" {
			t.Errorf("truth object without name: %+v", o)
		}
	}
}
