-- Public-security bodies (police forces): their consultations of a person are traced like any
-- other, but the person's "who looked at my data" page does not show them (the law lets those
-- accesses be withheld from the data subject; VIS-2's STANDARDPS users are the same case at the
-- registry office's extracts). Whether a body is one is decided when it is registered.
ALTER TABLE pdnd_clients ADD COLUMN public_security BOOLEAN NOT NULL DEFAULT FALSE;
