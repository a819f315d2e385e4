package store

import (
	"context"
	"fmt"
	"time"
)

// KindHarden is a harden job: its target is the HardenRequest JSON.
const KindHarden = "harden"

// HardenProfile is a generated hardened configuration (harden.Plan JSON)
// of one image digest, under its name.
type HardenProfile struct {
	Digest    string    `json:"digest"`
	Name      string    `json:"name"`
	JobID     string    `json:"jobID,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	Plan      []byte    `json:"-"`
}

func (s *Store) putHardenProfile(ctx context.Context, ex execer, p HardenProfile) error {
	if _, err := ex.ExecContext(ctx, s.q(`INSERT INTO harden_profiles (digest, name, job_id, created_at, plan) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (digest, name) DO UPDATE SET job_id = excluded.job_id, created_at = excluded.created_at, plan = excluded.plan`),
		p.Digest, p.Name, p.JobID, ms(p.CreatedAt), string(p.Plan)); err != nil {
		return fmt.Errorf("store the hardened configuration of %s: %w", p.Digest, err)
	}
	return nil
}

// HardenProfiles returns the hardened configurations of an image digest,
// by name; ErrNotFound when there is none.
func (s *Store) HardenProfiles(ctx context.Context, digest string) ([]HardenProfile, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT digest, name, job_id, created_at, plan FROM harden_profiles WHERE digest = ? ORDER BY name`), digest)
	if err != nil {
		return nil, fmt.Errorf("hardened configurations of %s: %w", digest, err)
	}
	defer rows.Close()
	var out []HardenProfile
	for rows.Next() {
		var p HardenProfile
		var created int64
		var plan string
		if err := rows.Scan(&p.Digest, &p.Name, &p.JobID, &created, &plan); err != nil {
			return nil, fmt.Errorf("hardened configurations of %s: %w", digest, err)
		}
		p.CreatedAt, p.Plan = fromMS(created), []byte(plan)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("hardened configurations of %s: %w", digest, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no hardened configuration for image %s: %w", digest, ErrNotFound)
	}
	return out, nil
}
