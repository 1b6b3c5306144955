#!/usr/bin/python3
"""fill-images.py N ACCOUNT: SQL that fills a kiln registry (region local) with N available
images, each with one mapping and its snapshot; one in ten shared with an account, one in fifty
public, one in five tagged. For the benchmarks that need many images (bench/registry.sh,
bench/endpoint.sh): registering them one by one would take hours."""
import sys, random
n, acct = int(sys.argv[1]), sys.argv[2]
random.seed(1)
h = lambda: "%017x" % random.getrandbits(68)
print("BEGIN;")
for i in range(1, n + 1):
    ami, snap = "ami-" + h(), "snap-" + h()
    print(f"INSERT INTO snapshots (id, region, owner, parent_id, volume, layer_id, virtual_size, volume_size, description, state, start_time, volume_id, worker_pid, seq) VALUES ('{snap}','local','{acct}',NULL,'{snap}.qcow2','layer-{h()}',8589934592,8,'Registered for {ami}','completed','2026-01-02T03:04:05.000Z',NULL,0,{i});")
    print(f"INSERT INTO images (id, region, owner, name, description, state, architecture, platform, default_user, boot_mode, root_device_name, creation_date, seq) VALUES ('{ami}','local','{acct}','bench-{i:05d}','image number {i}','available','x86_64','linux','admin','legacy-bios','/dev/vda','2026-01-02T03:04:05.000Z',{i});")
    print(f"INSERT INTO image_mappings VALUES ('{ami}',0,'/dev/vda','{snap}',8,1,'standard');")
    if i % 10 == 0:
        print(f"INSERT INTO launch_permissions VALUES ('{ami}',1,'222222222222');")
    if i % 50 == 0:
        print(f"INSERT INTO launch_permissions VALUES ('{ami}',0,'');")
    if i % 5 == 0:
        print(f"INSERT INTO tags VALUES ('{ami}','team','web');")
print("COMMIT;")
