package config

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// authField decodes sip.auth: a digest realm (default "brygga") and its
// accounts.
func authField(dst *Auth) func(*yaml.Node, string) error {
	return func(n *yaml.Node, p string) error {
		a := Auth{Realm: "brygga"}
		err := decodeMap(n, p, []field{
			{"realm", textField(&a.Realm, func(s string) error { return checkText(s, false) })},
			{"users", func(n *yaml.Node, p string) error {
				return list(n, p, func(item *yaml.Node, ip string) error { return a.addUser(item, ip, p) })
			}},
		})
		if err != nil {
			return err
		}
		if a.Realm == "" || strings.ContainsAny(a.Realm, "\"\\") {
			return nodeErr(join(p, "realm"), n, "must be a non-empty name without quotes or backslashes")
		}
		*dst = a
		return nil
	}
}

// addUser decodes one account of sip.auth.users (at path ip of the list
// at lp): a unique user name and a password of 8 characters or more.
func (a *Auth) addUser(item *yaml.Node, ip, lp string) error {
	var u AuthUser
	if err := decodeMap(item, ip, []field{
		{"user", textField(&u.User, checkAuthUser)},
		{"password", textField(&u.Password, func(s string) error { return checkText(s, false) })},
	}); err != nil {
		return err
	}
	switch {
	case u.User == "":
		return nodeErr(join(ip, "user"), item, "missing")
	case len(u.Password) < 8:
		return nodeErr(join(ip, "password"), item, "missing or shorter than 8 characters")
	}
	for j, o := range a.Users {
		if o.User == u.User {
			return nodeErr(join(ip, "user"), item, "%q is already %s[%d]", u.User, lp, j)
		}
	}
	a.Users = append(a.Users, u)
	return nil
}

// checkAuthUser: a digest user name goes into a quoted header parameter.
func checkAuthUser(s string) error {
	if err := checkText(s, true); err != nil {
		return err
	}
	if strings.ContainsAny(s, "\"\\ ") {
		return errorf("%q: no quotes, backslashes or spaces in a SIP user name", s)
	}
	return nil
}
