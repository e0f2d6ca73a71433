"""Files, git, DVC and GitHub: what datawheel reads and writes, and nothing of datawheel above
it. One home per mechanism: `files` (atomic writes, hashes), `process` (external commands),
`git` (git commands), `dvc` (the md5-verified fetch), `models` (skops files), `code` (the
code record), `github` (the REST client and sticky comment)."""
