package endpoint

func init() { register("kms", serveKMS) }

// serveKMS answers KMS (JSON 1.1): ListKeys (Limit 1-1000, default 100),
// ListAliases (Limit 1-100, default 50; KeyId narrows to one key),
// DescribeKey and GetKeyRotationStatus, which answers
// UnsupportedOperationException for keys automatic rotation does not apply
// to, as AWS does.
func serveKMS(q *req) {
	a := q.s.Data
	switch q.op {
	case "ListKeys":
		size, err := q.pageSize("Limit", 100, 1, 1000)
		if err != nil {
			q.invalid("ValidationException", "%s", err)
			return
		}
		start, end, next, ok := page("ListKeys", q.region, q.str("Marker"), a.KeyCount(), size)
		if !ok {
			q.invalid("InvalidMarkerException", "Invalid marker")
			return
		}
		keys := make([]map[string]any, 0, end-start)
		for i := start; i < end; i++ {
			k := a.Key(q.region, i)
			keys = append(keys, map[string]any{"KeyId": k.ID, "KeyArn": k.ARN})
		}
		out := map[string]any{"Keys": keys, "Truncated": next != ""}
		if next != "" {
			out["NextMarker"] = next
		}
		q.json(out)
	case "ListAliases":
		size, err := q.pageSize("Limit", 50, 1, 100)
		if err != nil {
			q.invalid("ValidationException", "%s", err)
			return
		}
		all := a.Aliases(q.region)
		if ref := q.str("KeyId"); ref != "" {
			k, ok := a.KeyByRef(q.region, ref)
			if !ok {
				q.invalid("NotFoundException", "Key '%s' does not exist", ref)
				return
			}
			var mine []Alias
			for _, al := range all {
				if al.Target == k.Index {
					mine = append(mine, al)
				}
			}
			all = mine
		}
		start, end, next, ok := page("ListAliases", q.region, q.str("Marker"), len(all), size)
		if !ok {
			q.invalid("InvalidMarkerException", "Invalid marker")
			return
		}
		out := make([]map[string]any, 0, end-start)
		for _, al := range all[start:end] {
			e := map[string]any{"AliasName": al.Name, "AliasArn": "arn:aws:kms:" + q.region + ":" + a.ID + ":" + al.Name}
			if al.Target >= 0 {
				k := a.Key(q.region, al.Target)
				e["TargetKeyId"] = k.ID
				e["CreationDate"] = epoch(k.Created)
				e["LastUpdatedDate"] = epoch(k.Created)
			}
			out = append(out, e)
		}
		res := map[string]any{"Aliases": out, "Truncated": next != ""}
		if next != "" {
			res["NextMarker"] = next
		}
		q.json(res)
	case "DescribeKey":
		k, ok := q.key()
		if !ok {
			return
		}
		q.json(map[string]any{"KeyMetadata": keyMetadata(a, k)})
	case "GetKeyRotationStatus":
		k, ok := q.key()
		if !ok {
			return
		}
		if !k.RotationApplies() {
			q.invalid("UnsupportedOperationException", "%s key %s does not support automatic key rotation", k.Spec, k.ARN)
			return
		}
		out := map[string]any{"KeyId": k.ARN, "KeyRotationEnabled": k.RotationEnabled}
		if k.RotationEnabled {
			out["RotationPeriodInDays"] = k.RotationPeriodDays
			out["NextRotationDate"] = epoch(k.Created.Add(day * 10000).Truncate(day))
		}
		q.json(out)
	default:
		q.unknownOperation()
	}
}

// key finds the KeyId of the input, answering NotFoundException itself.
func (q *req) key() (Key, bool) {
	ref := q.str("KeyId")
	if ref == "" {
		q.invalid("ValidationException", "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
		return Key{}, false
	}
	k, ok := q.s.Data.KeyByRef(q.region, ref)
	if !ok {
		q.invalid("NotFoundException", "Key '%s' does not exist", ref)
		return Key{}, false
	}
	return k, true
}

func keyMetadata(a *Account, k Key) map[string]any {
	m := map[string]any{
		"AWSAccountId": a.ID, "KeyId": k.ID, "Arn": k.ARN, "CreationDate": epoch(k.Created),
		"Enabled": k.State == "Enabled", "Description": k.Description, "KeyUsage": k.Usage, "KeyState": k.State,
		"Origin": k.Origin, "KeyManager": k.Manager, "CustomerMasterKeySpec": k.Spec, "KeySpec": k.Spec, "MultiRegion": false,
	}
	switch k.Usage {
	case "ENCRYPT_DECRYPT":
		m["EncryptionAlgorithms"] = []string{"SYMMETRIC_DEFAULT"}
	case "SIGN_VERIFY":
		if k.Spec == "ECC_NIST_P256" {
			m["SigningAlgorithms"] = []string{"ECDSA_SHA_256"}
		} else {
			m["SigningAlgorithms"] = []string{"RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_256"}
		}
	case "GENERATE_VERIFY_MAC":
		m["MacAlgorithms"] = []string{"HMAC_SHA_256"}
	}
	if k.DeletionDate != nil {
		m["DeletionDate"] = epoch(*k.DeletionDate)
	}
	if k.Origin == "EXTERNAL" {
		m["ExpirationModel"] = "KEY_MATERIAL_DOES_NOT_EXPIRE"
	}
	if k.CustomKeyStoreID != "" {
		m["CustomKeyStoreId"] = k.CustomKeyStoreID
		m["CloudHsmClusterId"] = "cluster-" + digest("hsm", k.CustomKeyStoreID)[:11]
	}
	return m
}
