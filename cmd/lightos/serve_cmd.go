package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/lightiam/lightos/server"
)

// serveCommand runs `lightos serve`: the flags, set-up and drain loop live in the
// server package (server.ParseFlags, NewStandard, Run), shared with
// `python -m lightos_accelerated.serve`.
func serveCommand(args []string) error {
	f, err := server.ParseFlags("serve", args, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	srv, release, err := server.NewStandard(f, server.Extensions{})
	if err != nil {
		return err
	}
	defer release()
	if err := srv.LoadAll(); err != nil {
		log.Printf("lightos serve: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return server.Run(ctx, srv, f.RunOptions())
}
