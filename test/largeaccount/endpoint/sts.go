package endpoint

func init() { register("sts", serveSTS) }

// serveSTS answers GetCallerIdentity (query protocol).
func serveSTS(q *req) {
	if q.op != "GetCallerIdentity" {
		q.unknownOperation()
		return
	}
	a := q.s.Data
	var b xb
	b.el("Arn", "arn:aws:iam::"+a.ID+":user/largeaccount-bench").el("UserId", "AIDA"+digest("user", a.ID)[:17]).el("Account", a.ID)
	q.queryResponse("https://sts.amazonaws.com/doc/2011-06-15/", b.String())
}
