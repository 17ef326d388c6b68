-- Call-group members refer to users by id: a member follows a change of
-- extension and leaves the group when the user is deleted. A member whose
-- extension is no user's (it could never ring) is dropped.
CREATE TABLE call_group_members_new (
    group_name TEXT NOT NULL REFERENCES call_groups(name) ON DELETE CASCADE ON UPDATE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    ring_time  INTEGER,                       -- seconds; NULL: the group's ring_time
    PRIMARY KEY (group_name, user_id)
);
INSERT INTO call_group_members_new(group_name, user_id, position, ring_time)
    SELECT m.group_name, u.id, m.position, m.ring_time
    FROM call_group_members m JOIN users u ON u.extension = m.extension;
DROP TABLE call_group_members;
ALTER TABLE call_group_members_new RENAME TO call_group_members;
