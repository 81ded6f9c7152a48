package replay_test

import (
	"context"
	"fmt"
	"time"

	"github.com/m2mkit/m2m/replay"
)

func ExampleMemory_Use() {
	now := time.Unix(1_700_000_000, 0)
	c := &replay.Memory{Now: func() time.Time { return now }}
	ctx := context.Background()
	expiry := now.Add(time.Minute) // when the credential stops being valid

	first, _ := c.Use(ctx, "rolling:bot-1:56666666", expiry)
	again, _ := c.Use(ctx, "rolling:bot-1:56666666", expiry)
	other, _ := c.Use(ctx, "rolling:bot-2:56666666", expiry)
	fmt.Println(first, again, other)
	// Output: true false true
}
